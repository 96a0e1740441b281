from django.urls import path

from . import views

app_name = "customerservice"
urlpatterns = [
    path("", views.workbench, name="workbench"),
    path("conversations/<int:pk>/", views.conversation_detail, name="conversation"),
    path("violations/", views.violation_list, name="violations"),
]
