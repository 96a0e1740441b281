app_name = "compensation"
urlpatterns: list = []
