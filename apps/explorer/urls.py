from django.urls import path

from apps.explorer import views

app_name = "explorer"

urlpatterns = [
    path("", views.explorer_page, name="explorer"),
    path("export", views.export_authorize, name="export"),
    path("summarize", views.summarize, name="summarize"),
]
