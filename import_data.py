#!/usr/bin/env python
"""Import ./AWSDynamoDB (or the folder/zip given) into the project's models.

python import_data.py [PATH] [import_dynamodb options, e.g. --dry-run]
"""

import os
import sys

DEFAULT_DIR = "AWSDynamoDB"


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    import django
    from django.core.management import call_command
    from django.core.management.base import CommandError

    django.setup()
    args = sys.argv[1:]
    if args and not args[0].startswith("-"):
        data_dir = args.pop(0)
    elif os.path.exists(DEFAULT_DIR):
        data_dir = DEFAULT_DIR
    else:
        sys.stderr.write(
            f"Error: there is no {DEFAULT_DIR} folder here ({os.getcwd()}): unzip an export "
            "here (the zip holds AWSDynamoDB/<ExportId>/...), or pass its folder or .zip: "
            "python import_data.py PATH\n"
        )
        sys.exit(1)
    try:
        call_command("import_dynamodb", "--data-dir", data_dir, *args)
    except CommandError as error:
        sys.stderr.write(f"Error: {error}\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
