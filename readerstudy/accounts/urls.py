from django.urls import path

from readerstudy.accounts import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("api-token/", views.api_token, name="api_token"),
]
