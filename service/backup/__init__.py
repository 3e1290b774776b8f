"""Backups of the service's database: `flask --app app backup create` and `backup restore FILE`."""
