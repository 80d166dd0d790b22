#!/usr/bin/env python
"""Import ./AWSDynamoDB (or the folder/zip given) into the project's models.

python import_data.py [PATH] [import_dynamodb options, e.g. --dry-run]
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    import django
    from django.core.management import call_command
    from django.core.management.base import CommandError

    django.setup()
    args = sys.argv[1:]
    data_dir = args.pop(0) if args and not args[0].startswith("-") else "AWSDynamoDB"
    try:
        call_command("import_dynamodb", "--data-dir", data_dir, *args)
    except CommandError as error:
        sys.stderr.write(f"Error: {error}\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
