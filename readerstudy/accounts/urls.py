from django.urls import path

from readerstudy.accounts import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("api-token/", views.api_token, name="api_token"),
    path("set-password/<uidb64>/<token>/", views.PasswordSetView.as_view(), name="password_set"),
    path("set-password/done/", views.PasswordSetDoneView.as_view(), name="password_set_done"),
]
