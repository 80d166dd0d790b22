"""Build demo items, one per call, as DynamoDB JSON with the mess real tables carry.

Every attribute name normalises (lowercase, no `_`, `-` or spaces) to a field of the demo models,
except `promoCode`, which belongs in `Stock.extra`. Every value is valid for its field, except the
deliberately invalid `quantity` of every `INVALID_PUSH_EVERY`-th push to production.
"""

from __future__ import annotations

import base64
import random
import unicodedata
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

Item = dict[str, Any]
ItemFactory = Callable[[random.Random, int, Mapping[str, int]], Item]

INVALID_PUSH_EVERY = 250
INVALID_PUSH_QUANTITY = "12.5"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
# A day inside 2020..2025 at both ends, so offset and naive renderings stay inside the range too.
FIRST_MS = int((datetime(2020, 1, 2, tzinfo=UTC) - _EPOCH).total_seconds()) * 1000
LAST_MS = int((datetime(2025, 6, 1, tzinfo=UTC) - _EPOCH).total_seconds()) * 1000
_OFFSETS = ((120, "+02:00"), (60, "+01:00"), (-300, "-05:00"), (330, "+05:30"), (0, "+00:00"))

_FIRST_NAMES = (
    "Anna", "Ben", "Chloé", "David", "Elif", "Farah", "Gustav", "Hana", "Ivan", "Júlia", "Kenji",
    "Lena", "Mateo", "Nora", "Oskar", "Priya", "Quentin", "Rosa", "Søren", "Tomás", "Uma",
    "Viktor", "Wen", "Yusuf", "Zoë",
)  # fmt: skip
_LAST_NAMES = (
    "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Haddad", "Ito", "Jansen",
    "Kowalski", "López", "Müller", "Nakamura", "O'Brien", "Petrov", "Rossi", "Schmidt", "Tanaka",
    "Uçar", "Novák", "Weber", "Yilmaz", "Zhang",
)  # fmt: skip
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_ROLES = ("admin", "manager", "operator", "viewer")
_ROLE_WEIGHTS = (1, 4, 12, 20)  # cumulative: few admins, many viewers
_DOMAINS = ("example.com", "example.org", "werk.example.de")
_THEMES = ("light", "dark", "system")
_GROUP_NAMES = (
    "Warehouse", "Purchasing", "Production", "Quality", "Logistics", "Finance", "Sales",
    "Support", "Maintenance", "Planning", "IT", "Management",
)  # fmt: skip
_PERMISSIONS = (
    "stock.view", "stock.edit", "stock.delete", "production.view", "production.push",
    "transactions.view", "transactions.undo", "users.view", "users.edit", "reports.export",
)  # fmt: skip
_SKU_PREFIXES = ("BLT", "NUT", "PNL", "CBL", "MTR", "PKG")
_ADJECTIVES = ("Steel", "Brass", "Galvanised", "Heavy", "Compact", "Größe M", "Blue", "Recycled")
_NOUNS = ("bolt", "washer", "panel", "cable drum", "motor mount", "bracket", "hinge", "crate")
_TAGS = ("fragile", "bulk", "hazmat", "seasonal", "imported", "clearance", "new")
_COLORS = ("red", "blue", "black", "silver", "natural")
_REMARKS = (
    "Recounted after inventory, numbers match.",
    "Packaging damaged on arrival; contents fine.",
    "Supplier changed — check the new datasheet.",
    "Reserved for the Q3 production run.",
    "Moved from aisle B to aisle D.",
    "Label misprinted, reprint requested.",
)
_PRODUCTS = ("Gearbox", "Control cabinet", "Pump housing", "Conveyor segment", "Sensor kit")
_STATUSES = ("planned", "in_progress", "done")
_NOTES = ("Rush order.", "Second shift.", "Check torque settings before use.", "Partial pallet.")
_REASONS = ("received", "shipped", "adjusted", "production")
_SOURCES = ("scanner", "api", "manual", "nightly-import")
_ACTION_TYPES = ("revert_transaction", "restore_stock", "cancel_push", "restore_remark")


def _ascii_slug(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return "".join(char for char in folded.lower() if char.isalnum())


_FIRST_SLUGS = tuple(_ascii_slug(name) for name in _FIRST_NAMES)
_LAST_SLUGS = tuple(_ascii_slug(name) for name in _LAST_NAMES)


def person(number: int) -> tuple[str, str, str]:
    """Return (first name, last name, unique username) of demo user `number`."""
    # Derived from the number, not drawn, so other tables can name existing users without
    # the generator keeping a list of them.
    first = number % len(_FIRST_NAMES)
    last = number * 7 % len(_LAST_NAMES)
    username = f"{_FIRST_SLUGS[first]}.{_LAST_SLUGS[last]}{number}"
    return _FIRST_NAMES[first], _LAST_NAMES[last], username


def format_timestamp(rng: random.Random, ms: int) -> str:
    """Render epoch milliseconds in one of the three formats the team's code wrote over time."""
    moment = _NAIVE_EPOCH + timedelta(milliseconds=ms)  # naive UTC: isoformat adds no offset
    style = rng.random()
    if style < 0.6:
        return moment.isoformat(timespec="milliseconds") + "Z"
    if style < 0.85:
        minutes, suffix = rng.choice(_OFFSETS)
        return (moment + timedelta(minutes=minutes)).isoformat(timespec="seconds") + suffix
    return moment.isoformat(" ", "seconds")  # naive, UTC wall clock


def _timestamp(rng: random.Random, after_ms: int = FIRST_MS) -> tuple[int, dict[str, str]]:
    ms = rng.randint(after_ms, LAST_MS)
    return ms, {"S": format_timestamp(rng, ms)}


def _decimal_text(units: int, places: int) -> str:
    # DynamoDB trims trailing zeros, so 1250 cents arrive as "12.5" and 700 as "7".
    whole, fraction = divmod(units, 10**places)
    digits = f"{fraction:0{places}d}".rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def _uuid(rng: random.Random) -> dict[str, str]:
    return {"S": str(uuid.UUID(int=rng.getrandbits(128), version=4))}


def _binary(rng: random.Random, size: int) -> str:
    return base64.b64encode(rng.randbytes(size)).decode("ascii")


def _username(rng: random.Random, plan: Mapping[str, int]) -> dict[str, str]:
    return {"S": person(rng.randint(1, plan["users"]))[2]}


def _ref(rng: random.Random, prefix: str, width: int, count: int) -> dict[str, str]:
    return {"S": f"{prefix}{rng.randint(1, count):0{width}d}"}


def _vary_order(rng: random.Random, item: Item) -> Item:
    # Real exports do not keep attribute order; swap one neighbouring pair now and then.
    if rng.random() >= 0.3:
        return item
    names = list(item)
    i = rng.randrange(len(names) - 1)
    names[i], names[i + 1] = names[i + 1], names[i]
    return {name: item[name] for name in names}


def user_item(rng: random.Random, number: int, plan: Mapping[str, int]) -> Item:
    """Build item `number` of the `users` table."""
    first, last, username = person(number)
    joined_ms, joined = _timestamp(rng)
    phone = f"+49 30 {rng.randint(1_000_000, 9_999_999)}" if rng.random() < 0.35 else ""
    preferences: dict[str, Any] = {}
    if rng.random() < 0.9:  # some users never opened the settings page
        preferences = {
            "theme": {"S": rng.choice(_THEMES)},
            "pageSize": {"N": str(rng.choice((10, 25, 50, 100)))},
            "notifications": {
                "M": {"email": {"BOOL": rng.random() < 0.7}, "sms": {"BOOL": rng.random() < 0.2}}
            },
        }
    item: Item = {
        "id": _uuid(rng),
        "username": {"S": username},
        "email": {"S": "" if rng.random() < 0.08 else f"{username}@{rng.choice(_DOMAINS)}"},
        "firstName": {"S": first},
        "lastName": {"S": last},
        "password": {"S": "!" + "".join(rng.choices(_ALNUM, k=40))},
        "isStaff": {"BOOL": rng.random() < 0.1},
        "isActive": {"BOOL": rng.random() < 0.92},
        "role": {"S": rng.choices(_ROLES, cum_weights=_ROLE_WEIGHTS)[0]},
        "phone": {"S": phone},
        "preferences": {"M": preferences},
        "isVerified": {"BOOL": rng.random() < 0.6},
        "dateJoined": joined,
    }
    if rng.random() < 0.6:
        item["lastSeenAt"] = {"N": str(rng.randint(joined_ms, LAST_MS))}
    return _vary_order(rng, item)


def group_item(rng: random.Random, number: int, plan: Mapping[str, int]) -> Item:
    """Build item `number` of the `Groups` table (integer ids)."""
    base, round_ = _GROUP_NAMES[(number - 1) % len(_GROUP_NAMES)], (number - 1) // len(_GROUP_NAMES)
    members = str(rng.randint(0, 250))
    item: Item = {
        "id": {"N": str(number)},
        "name": {"S": base if round_ == 0 else f"{base} {round_ + 1}"},
        "description": {"S": "" if rng.random() < 0.2 else f"Everyone working in {base.lower()}."},
        "permissions": {"SS": rng.sample(_PERMISSIONS, k=rng.randint(1, 4))},
        # An old admin script wrote the count as a string.
        "memberCount": {"S": members} if rng.random() < 0.1 else {"N": members},
        "createdAt": _timestamp(rng)[1],
    }
    return _vary_order(rng, item)


def stock_item(rng: random.Random, number: int, plan: Mapping[str, int]) -> Item:
    """Build item `number` of the `stock` table."""
    created_ms, created = _timestamp(rng)
    quantity = str(rng.randint(0, 5000))
    location = f"{rng.choice('ABCDEFGH')}-{rng.randint(1, 40):02d}-{rng.randint(1, 6)}"
    item: Item = {
        "id": {"S": f"STK-{number:06d}"},
        "sku": {"S": f"{rng.choice(_SKU_PREFIXES)}-{number:06d}"},
        "name": {"S": f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"},
        "quantity": {"S": quantity} if rng.random() < 0.05 else {"N": quantity},
        "location": {"S": "" if rng.random() < 0.15 else location},
        "isActive": {"BOOL": rng.random() < 0.9},
        "attributes": {
            "M": {
                "color": {"S": rng.choice(_COLORS)},
                "size": {"N": str(rng.randint(1, 60))},
                "dimensions": {
                    "M": {
                        "w": {"N": _decimal_text(rng.randint(5, 2000), 1)},
                        "h": {"N": _decimal_text(rng.randint(5, 2000), 1)},
                    }
                },
            }
        },
        "createdAt": created,
    }
    if rng.random() < 0.97:  # price not yet set on a few items
        item["unitPrice"] = {"N": _decimal_text(rng.randint(1, 99_999), 2)}
    if rng.random() < 0.8:  # DynamoDB has no empty sets, so untagged items lack the attribute
        item["tags"] = {"SS": rng.sample(_TAGS, k=rng.randint(1, 3))}
    if rng.random() < 0.3:
        item["barcode"] = {"B": _binary(rng, rng.randint(4, 12))}
    if rng.random() < 0.5:
        item["updatedAt"] = _timestamp(rng, created_ms)[1]
    if rng.random() < 0.01:
        item["promoCode"] = {"S": f"SPRING{rng.randint(10, 99)}"}
    return _vary_order(rng, item)


def stock_remark_item(rng: random.Random, number: int, plan: Mapping[str, int]) -> Item:
    """Build item `number` of the `stock_remarks` table."""
    item: Item = {
        "id": _uuid(rng),
        "stockId": _ref(rng, "STK-", 6, plan["stock"]),
        "remark": {"S": rng.choice(_REMARKS)},
        "author": {"S": ""} if rng.random() < 0.2 else _username(rng, plan),
        "createdAt": _timestamp(rng)[1],
    }
    return _vary_order(rng, item)


def product_item(rng: random.Random, number: int, plan: Mapping[str, int]) -> Item:
    """Build item `number` of the `production` table."""
    item: Item = {
        "id": {"S": f"PRD-{number:06d}"},
        "name": {"S": f"{rng.choice(_PRODUCTS)} mk{rng.randint(1, 9)}"},
        "batchSize": {"N": str(rng.randint(1, 500))},
        "weightKg": {"N": _decimal_text(rng.randint(1, 2_500_000), 3)},
        "status": {"S": rng.choice(_STATUSES)},
        "specs": {
            "M": {
                "line": {"S": rng.choice("ABC")},
                "temperatures": {
                    "L": [{"N": str(rng.randint(150, 260))}, {"N": "-18.5"}, {"NULL": True}]
                },
            }
        },
        "createdAt": _timestamp(rng)[1],
    }
    if rng.random() < 0.8:
        item["stockId"] = _ref(rng, "STK-", 6, plan["stock"])
    return _vary_order(rng, item)


def push_item(rng: random.Random, number: int, plan: Mapping[str, int]) -> Item:
    """Build item `number` of the `push_to_production` table."""
    invalid = number % INVALID_PUSH_EVERY == 0
    item: Item = {
        "id": _uuid(rng),
        "productId": _ref(rng, "PRD-", 6, plan["production"]),
        "quantity": {"N": INVALID_PUSH_QUANTITY if invalid else str(rng.randint(1, 1000))},
        "pushedBy": _username(rng, plan),
        "pushedAt": _timestamp(rng)[1],
        "approved": {"BOOL": rng.random() < 0.75},
        "notes": {"S": "" if rng.random() < 0.5 else rng.choice(_NOTES)},
    }
    return _vary_order(rng, item)


def transaction_item(rng: random.Random, number: int, plan: Mapping[str, int]) -> Item:
    """Build item `number` of the `stock_transactions` table."""
    change = rng.randint(-200, 300) or 1
    metadata: dict[str, Any] = {}
    if rng.random() < 0.9:
        metadata = {"source": {"S": rng.choice(_SOURCES)}, "batch": {"N": str(rng.randint(1, 999))}}
    item: Item = {
        "id": {"S": f"TX-{number:07d}"},
        "stockId": _ref(rng, "STK-", 6, plan["stock"]),
        "change": {"N": str(change)},
        "balanceAfter": {"N": str(rng.randint(max(change, 0), 5000))},
        "reason": {"S": rng.choice(_REASONS)},
        "metadata": {"M": metadata},
        "createdAt": _timestamp(rng)[1],
    }
    return _vary_order(rng, item)


def undo_item(rng: random.Random, number: int, plan: Mapping[str, int]) -> Item:
    """Build item `number` of the `undo_actions` table."""
    before = rng.randint(0, 5000)
    payload: dict[str, Any] = {
        "before": {"M": {"quantity": {"N": str(before)}}},
        "after": {"M": {"quantity": {"N": str(before + rng.randint(1, 200))}}},
        "fields": {"L": [{"S": "quantity"}, {"S": "location"}]},
    }
    if rng.random() < 0.3:
        # Sets hold unique elements: drop the (astronomically rare) duplicate draw.
        snapshots = dict.fromkeys(_binary(rng, 8) for _ in range(rng.randint(1, 3)))
        payload["snapshots"] = {"BS": list(snapshots)}
    item: Item = {
        "id": _uuid(rng),
        "actionType": {"S": rng.choice(_ACTION_TYPES)},
        "payload": {"M": payload},
        "performedBy": _username(rng, plan),
        "performedAt": _timestamp(rng)[1],
        "undone": {"BOOL": rng.random() < 0.4},
    }
    if rng.random() < 0.9:
        item["transactionId"] = _ref(rng, "TX-", 7, plan["stock_transactions"])
    return _vary_order(rng, item)


FACTORIES: dict[str, ItemFactory] = {
    "users": user_item,
    "Groups": group_item,
    "stock": stock_item,
    "stock_remarks": stock_remark_item,
    "production": product_item,
    "push_to_production": push_item,
    "stock_transactions": transaction_item,
    "undo_actions": undo_item,
}
