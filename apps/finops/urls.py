from django.urls import path

from apps.finops import views

app_name = "finops"
urlpatterns = [path("v1/chat/completions", views.chat_completions, name="chat_completions")]
