"""Mailchimp merge fields: an audience's field definitions and the checks on member values.

Every audience starts with Mailchimp's five default fields (FNAME, LNAME, ADDRESS, PHONE,
BIRTHDAY); clients add more (at most 30 in all). A member's merge values are checked against the
field's type the way Mailchimp does; an unknown tag or a value of the wrong type rejects the
whole write with an `Invalid Resource` problem naming each bad field.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from sandbox.mailchimp.rest import McRequest, invalid

TYPES = "text number address phone date url imageurl radio dropdown birthday zip".split()
MAX_FIELDS = 30  # Mailchimp's limit of merge fields per audience
MAX_TEXT = 255
_TAG = re.compile(r"[A-Z0-9_]{1,10}")
_DEFAULT_FIELDS = (
    ("FNAME", "First Name", "text", {"size": MAX_TEXT}),
    ("LNAME", "Last Name", "text", {"size": MAX_TEXT}),
    ("ADDRESS", "Address", "address", {"default_country": 164}),
    ("PHONE", "Phone Number", "phone", {"phone_format": "none"}),
    ("BIRTHDAY", "Birthday", "birthday", {"date_format": "MM/DD"}),
)
DEFAULT_FIELDS = [
    {
        "merge_id": n,
        "tag": tag,
        "name": name,
        "type": kind,
        "required": False,
        "default_value": "",
        "public": False,
        "display_order": n + 1,
        "options": options,
        "help_text": "",
    }
    for n, (tag, name, kind, options) in enumerate(_DEFAULT_FIELDS, start=1)
]
_DATE_FORMATS = {"MM/DD/YYYY": "%m/%d/%Y", "DD/MM/YYYY": "%d/%m/%Y"}
_BIRTHDAY_FORMATS = {"MM/DD": "%m/%d", "DD/MM": "%d/%m"}
_ADDRESS_KEYS = ("addr1", "city", "state", "zip")


def field_resource(request: McRequest, list_id: str, field: dict[str, Any]) -> dict[str, Any]:
    path = f"/lists/{list_id}/merge-fields/{field['merge_id']}"
    return {
        **field,
        "list_id": list_id,
        "_links": [request.link(path, "self"), request.link(f"/lists/{list_id}", "parent")],
    }


def parse_definition(payload: dict[str, Any]) -> dict[str, Any]:
    """A new merge field's definition from a POST body (name and type required)."""
    errors = []
    name, kind, tag = payload.get("name"), payload.get("type"), payload.get("tag")
    if not isinstance(name, str) or not name.strip():
        errors.append({"field": "name", "message": "This value should not be blank."})
    if kind not in TYPES:
        errors.append({"field": "type", "message": f"Type must be one of {', '.join(TYPES)}."})
    if tag is not None:
        tag = tag.upper() if isinstance(tag, str) else tag
        if not isinstance(tag, str) or not _TAG.fullmatch(tag):
            message = "Tags are 1 to 10 letters, digits or underscores."
            errors.append({"field": "tag", "message": message})
    options = payload.get("options") or {}
    if not isinstance(options, dict):
        errors.append({"field": "options", "message": "Options must be an object."})
        options = {}
    if kind in ("radio", "dropdown"):
        choices = options.get("choices")
        if not choices or not all(isinstance(c, str) for c in choices):
            errors.append({"field": "options.choices", "message": "Provide a list of choices."})
    if kind == "date" and options.setdefault("date_format", "MM/DD/YYYY") not in _DATE_FORMATS:
        errors.append({"field": "options.date_format", "message": "Unknown date format."})
    if kind == "birthday" and options.setdefault("date_format", "MM/DD") not in _BIRTHDAY_FORMATS:
        errors.append({"field": "options.date_format", "message": "Unknown birthday format."})
    if kind == "text":
        size = options.setdefault("size", MAX_TEXT)
        if not isinstance(size, int) or not 1 <= size <= MAX_TEXT:
            message = f"Size must be between 1 and {MAX_TEXT}."
            errors.append({"field": "options.size", "message": message})
    if errors:
        raise invalid(errors)
    return {
        "tag": tag,
        "name": name.strip(),
        "type": kind,
        "required": bool(payload.get("required", False)),
        "default_value": str(payload.get("default_value") or ""),
        "public": bool(payload.get("public", False)),
        "display_order": int(payload.get("display_order") or 0),
        "options": options,
        "help_text": str(payload.get("help_text") or ""),
    }


def check_values(
    fields: list[dict[str, Any]], values: Any, *, new_member: bool, skip_required: bool = False
) -> dict[str, Any]:
    """Normalised merge values, or an Invalid Resource problem naming every bad field.

    An empty string clears a field. A new member must fill every required field unless the
    request sets `skip_merge_validation`.
    """
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise invalid([{"field": "merge_fields", "message": "merge_fields must be an object."}])
    by_tag = {field["tag"]: field for field in fields}
    errors, clean = [], {}
    for tag, value in values.items():
        field = by_tag.get(tag.upper() if isinstance(tag, str) else tag)
        if field is None:
            errors.append({"field": str(tag), "message": f"Merge field {tag} does not exist."})
            continue
        try:
            clean[field["tag"]] = _value(field, value)
        except ValueError as exc:
            errors.append({"field": field["tag"], "message": str(exc)})
    if new_member and not skip_required:
        for field in fields:
            if field["required"] and not clean.get(field["tag"]):
                errors.append({"field": field["tag"], "message": "Please enter a value"})
    if errors:
        raise invalid(errors, detail="Your merge fields were invalid.")
    return clean


def _value(field: dict[str, Any], value: Any) -> Any:
    """One value checked and normalised for its field type; ValueError says what is wrong."""
    if value is None or value == "":
        return ""
    kind, options = field["type"], field["options"]
    if kind == "number":
        number = _number(value)
        if number is None:
            raise ValueError("Please enter a number")
        return number
    if kind == "address":
        if not isinstance(value, dict) or not all(value.get(k) for k in _ADDRESS_KEYS):
            raise ValueError("Please enter a complete address (addr1, city, state, zip)")
        return {k: str(v) for k, v in value.items()}
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("Please enter a text value")
    text = str(value)
    if kind == "text" and len(text) > options.get("size", MAX_TEXT):
        raise ValueError(f"Please enter no more than {options.get('size', MAX_TEXT)} characters")
    if kind == "date":
        return _date(text, ("%Y-%m-%d", _DATE_FORMATS[options["date_format"]])).strftime("%Y-%m-%d")
    if kind == "birthday":
        fmt = _BIRTHDAY_FORMATS[options["date_format"]]
        return _date(f"2000/{text}", (f"%Y/{fmt}",)).strftime(fmt)
    if kind in ("radio", "dropdown") and text not in options.get("choices", []):
        raise ValueError("Please choose one of the field's options")
    if kind in ("url", "imageurl") and not re.match(r"https?://\S+$", text):
        raise ValueError("Please enter a valid URL")
    if kind == "zip" and not re.fullmatch(r"\d{5}", text):
        raise ValueError("Please enter a 5-digit zip code")
    if kind == "phone" and not re.fullmatch(r"[\d+()\-. ]{3,30}", text):
        raise ValueError("Please enter a valid phone number")
    return text


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else value


def _date(text: str, formats: tuple[str, ...]) -> datetime:
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError("Please enter a valid date")
