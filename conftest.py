"""Root pytest configuration: the real-servers fixtures are shared by every test folder."""

pytest_plugins = ["aplypro_local.pytest_plugin"]
