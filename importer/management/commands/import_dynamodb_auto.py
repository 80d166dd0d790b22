"""`manage.py import_dynamodb_auto`: the seed guide's name for import_dynamodb (auto-detection is
always on: tables come from the manifests wherever they sit)."""

from importer.management.commands.import_dynamodb import Command as ImportCommand


class Command(ImportCommand):
    help = ImportCommand.help + " Same as import_dynamodb."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        super().add_arguments(parser)
        parser.set_defaults(data_dir="AWSDynamoDB")
        for action in parser._actions:
            if action.dest == "data_dir":
                action.required = False
