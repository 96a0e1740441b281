"""URLs of the after-sales desk, mounted at /desk/ by pddadmin/urls.py."""

from django.urls import path

from . import desk

app_name = "aftersales_desk"
urlpatterns = [
    path("", desk.desk, name="desk"),
    path("bulk/", desk.bulk, name="bulk"),
    path("cases/<int:pk>/act/", desk.act, name="act"),  # the transition is a posted field: urls capture pks only
]
