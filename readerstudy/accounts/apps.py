from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "readerstudy.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"
