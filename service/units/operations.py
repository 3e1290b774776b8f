"""Changes to the unit hierarchy: importing an edition's list and the old → new succession.

Imports are all-or-nothing (the whole file is checked before anything is written, and the caller commits once)
and idempotent (a unit whose values are already those of the file is left alone). They write with bulk
statements so that the 10,035 communes of 2024 load in seconds, and audit each inserted or changed row.
"""
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import insert, select, update

from service.audit.operations import record_bulk
from service.common.text import fold, strip_unit_prefix, vi_sort_key
from service.extensions import db
from service.units.csvfile import UnitFileError, read_rows
from service.units.models import AdminUnit, UnitSuccession

COLUMNS = {
    2024: ["province_code", "province_name", "district_code", "district_name", "commune_code", "commune_name",
           "commune_type"],
    2025: ["province_code", "province_name", "commune_code", "commune_name", "commune_type"],
}
SUCCESSION_COLUMNS = ["old_province_code", "old_province_name", "old_district_code", "old_district_name",
                      "old_commune_code", "old_commune_name", "new_province_code", "new_province_name",
                      "new_commune_code", "new_commune_name", "relation", "confidence"]
COMMUNE_TYPES = {2024: {"Xã", "Phường", "Thị trấn"}, 2025: {"Xã", "Phường", "Đặc khu"}}
UNIT_TYPES = ("Thành phố", "Tỉnh", "Huyện", "Quận", "Thị xã", "Thị trấn", "Xã", "Phường", "Đặc khu")
COMPARED = ("name", "level", "unit_type", "parent_id", "province_id", "district_id", "sort_name", "search_name",
            "synthetic")
MAX_ERRORS = 50


@dataclass
class ImportResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    not_in_file: int = 0
    messages: list = field(default_factory=list)


def unit_type_of(name):
    """'Thành phố Buôn Ma Thuột' -> 'Thành phố'."""
    for prefix in UNIT_TYPES:
        if name.startswith(prefix + " "):
            return prefix
    return ""


def unit_values(edition, code, name, level, unit_type, synthetic=False):
    return {
        "edition": edition,
        "code": code,
        "name": name,
        "level": level,
        "unit_type": unit_type or unit_type_of(name),
        "sort_name": vi_sort_key(strip_unit_prefix(name)),
        "search_name": fold(name)[:200],
        "synthetic": synthetic,
    }


def _check_code(errors, line, column, value):
    if not value:
        errors.append((line, _("column %(column)s is empty.", column=column)))
        return False
    if not value.isdigit():
        errors.append((line, _("column %(column)s: code %(code)s must contain digits only.", column=column,
                                code=value)))
        return False
    return True


def _parse_edition(rows, edition):
    """Turn rows into provinces, districts and communes, collecting every error with its line."""
    errors = []
    provinces, districts, communes = {}, {}, {}
    for line, row in rows:
        if len(errors) >= MAX_ERRORS:
            break
        ok = _check_code(errors, line, "province_code", row["province_code"])
        ok = _check_code(errors, line, "commune_code", row["commune_code"]) and ok
        if edition == 2024:
            if not row["district_code"]:
                errors.append((line, _("commune %(code)s has no parent district (district_code is empty).",
                                       code=row["commune_code"])))
                ok = False
            else:
                ok = _check_code(errors, line, "district_code", row["district_code"]) and ok
        for column in ("province_name", "commune_name") + (("district_name",) if edition == 2024 else ()):
            if not row[column]:
                errors.append((line, _("column %(column)s is empty.", column=column)))
                ok = False
        if row["commune_type"] not in COMMUNE_TYPES[edition]:
            errors.append((line, _("commune_type %(value)s is not one of %(allowed)s.", value=row["commune_type"],
                                   allowed=", ".join(sorted(COMMUNE_TYPES[edition])))))
            ok = False
        if not ok:
            continue
        code = row["province_code"]
        seen = provinces.setdefault(code, (line, row["province_name"]))
        if seen[1] != row["province_name"]:
            errors.append((line, _("province %(code)s is named %(name)s here but %(other)s on line %(line)s.",
                                   code=code, name=row["province_name"], other=seen[1], line=seen[0])))
        parent_code = code
        if edition == 2024:
            dcode = row["district_code"]
            seen = districts.setdefault(dcode, (line, row["district_name"], code))
            if seen[1:] != (row["district_name"], code):
                errors.append((line, _("district %(code)s differs from line %(line)s (name or province).",
                                       code=dcode, line=seen[0])))
            parent_code = dcode
        ccode = row["commune_code"]
        if ccode in communes:
            errors.append((line, _("duplicate commune code %(code)s (already on line %(line)s).", code=ccode,
                                   line=communes[ccode][0])))
            continue
        communes[ccode] = (line, row["commune_name"], row["commune_type"], parent_code, code)
    all_codes = {}
    for level, table in (("province", provinces), ("district", districts), ("commune", communes)):
        for code, value in table.items():
            if code in all_codes and all_codes[code] != level:
                errors.append((value[0], _("code %(code)s is used by a %(a)s and a %(b)s.", code=code,
                                           a=all_codes[code], b=level)))
            all_codes[code] = level
    if errors:
        raise UnitFileError(errors[:MAX_ERRORS])
    return provinces, districts, communes


def _existing(edition):
    rows = db.session.execute(select(AdminUnit.__table__).where(AdminUnit.edition == edition)).mappings()
    return {row["code"]: dict(row) for row in rows}


def upsert_level(edition, wanted, result):
    """Insert or update one level (also used by the demo's synthetic hierarchy): `wanted` maps code → full value
    dict (without id). Returns code → id."""
    existing = _existing(edition)
    inserts, updates, audit_new, audit_changed = [], [], [], []
    for code, values in wanted.items():
        current = existing.get(code)
        if current is None:
            inserts.append(values)
            continue
        changed = {key: values[key] for key in COMPARED if current[key] != values[key]}
        if changed:
            updates.append({"id": current["id"], **changed})
            audit_changed.append((current["id"], {key: current[key] for key in changed}, changed))
        else:
            result.unchanged += 1
    if inserts:
        db.session.execute(insert(AdminUnit), inserts)
    if updates:
        db.session.execute(update(AdminUnit), updates)
    ids = {code: row["id"] for code, row in _existing(edition).items()}
    for values in inserts:
        audit_new.append((ids[values["code"]], None, values))
    record_bulk("create", "admin_unit", audit_new)
    record_bulk("update", "admin_unit", audit_changed)
    result.inserted += len(inserts)
    result.updated += len(updates)
    return ids


def import_edition(data, edition):
    """Import a whole edition's unit list from CSV bytes (layout of ../shared/data/vn_units_<edition>.csv)."""
    if edition not in COLUMNS:
        raise UnitFileError([(0, _("unknown edition %(edition)s (2024 or 2025).", edition=edition))])
    provinces, districts, communes = _parse_edition(read_rows(data, COLUMNS[edition]), edition)
    result = ImportResult()
    before = set(_existing(edition))
    province_ids = upsert_level(edition, {
        code: {**unit_values(edition, code, name, "province", ""), "parent_id": None, "province_id": None,
               "district_id": None}
        for code, (_line, name) in provinces.items()
    }, result)
    district_ids = {}
    if districts:
        district_ids = upsert_level(edition, {
            code: {**unit_values(edition, code, name, "district", ""), "parent_id": province_ids[pcode],
                   "province_id": province_ids[pcode], "district_id": None}
            for code, (_line, name, pcode) in districts.items()
        }, result)
    wanted = {}
    for code, (_line, name, ctype, parent_code, pcode) in communes.items():
        district_id = district_ids.get(parent_code) if edition == 2024 else None
        wanted[code] = {**unit_values(edition, code, name, "commune", ctype),
                        "parent_id": district_id or province_ids[pcode], "province_id": province_ids[pcode],
                        "district_id": district_id}
    upsert_level(edition, wanted, result)
    in_file = set(provinces) | set(districts) | set(communes)
    result.not_in_file = len(before - in_file)
    return result


def import_succession(data):
    """Import the old (2024) → new (2025) succession; both editions must be loaded first.

    Rows without an old commune map a whole commune-less district (Bạch Long Vĩ, Côn Đảo…) to a special zone;
    such a district is added to the 2024 edition as a leaf if the unit list did not have it.
    """
    rows = read_rows(data, SUCCESSION_COLUMNS)
    old_units = _existing(2024)
    new_units = _existing(2025)
    if not old_units or not new_units:
        raise UnitFileError([(0, _("import both editions (2024 and 2025) before the succession."))])
    errors, pairs, leaf_districts, relations = [], {}, {}, {}
    for line, row in rows:
        if len(errors) >= MAX_ERRORS:
            break
        old_code = row["old_commune_code"] or row["old_district_code"]
        new_code = row["new_commune_code"]
        if row["relation"] not in ("full", "partial"):
            errors.append((line, _("relation %(value)s must be full or partial.", value=row["relation"])))
            continue
        if not row["old_commune_code"]:
            if not _check_code(errors, line, "old_district_code", row["old_district_code"]):
                continue
            if old_code not in old_units and row["old_province_code"] not in old_units:
                errors.append((line, _("old district %(code)s has no province %(province)s in edition 2024.",
                                       code=old_code, province=row["old_province_code"])))
                continue
            if old_code not in old_units:
                leaf_districts[old_code] = (row["old_district_name"], row["old_province_code"])
        elif old_code not in old_units:
            errors.append((line, _("old commune %(code)s is not in edition 2024.", code=old_code)))
            continue
        if new_code not in new_units or new_units[new_code]["level"] != "commune":
            errors.append((line, _("new commune %(code)s is not in edition 2025.", code=new_code)))
            continue
        if (old_code, new_code) in pairs:
            errors.append((line, _("pair %(old)s → %(new)s repeats line %(line)s.", old=old_code, new=new_code,
                                   line=pairs[(old_code, new_code)][0])))
            continue
        pairs[(old_code, new_code)] = (line, row["relation"], row["confidence"])
        relations.setdefault(old_code, []).append((line, row["relation"]))
    for old_code, items in relations.items():
        kinds = [relation for _line, relation in items]
        if ("full" in kinds and len(kinds) > 1) or (kinds == ["partial"]):
            errors.append((items[-1][0], _("old unit %(code)s must have exactly one full row or two or more "
                                           "partial rows.", code=old_code)))
    if errors:
        raise UnitFileError(errors[:MAX_ERRORS])
    result = ImportResult()
    if leaf_districts:
        districts_added = ImportResult()
        upsert_level(2024, {
            code: {**unit_values(2024, code, name, "district", ""), "parent_id": old_units[pcode]["id"],
                   "province_id": old_units[pcode]["id"], "district_id": None}
            for code, (name, pcode) in leaf_districts.items()
        }, districts_added)
        result.messages.append(f"leaf_districts_added={districts_added.inserted}")
        old_units = _existing(2024)
    existing = {
        (row.old_unit_id, row.new_unit_id): row
        for row in db.session.execute(select(UnitSuccession.__table__)).all()
    }
    inserts, updates, audit_new, audit_changed = [], [], [], []
    for (old_code, new_code), (_line, relation, confidence) in pairs.items():
        key = (old_units[old_code]["id"], new_units[new_code]["id"])
        current = existing.get(key)
        if current is None:
            inserts.append({"old_unit_id": key[0], "new_unit_id": key[1], "relation": relation,
                            "confidence": confidence})
        elif (current.relation, current.confidence) != (relation, confidence):
            updates.append({"id": current.id, "relation": relation, "confidence": confidence})
            audit_changed.append((current.id, {"relation": current.relation, "confidence": current.confidence},
                                  {"relation": relation, "confidence": confidence}))
        else:
            result.unchanged += 1
    if inserts:
        db.session.execute(insert(UnitSuccession), inserts)
        ids = {(row.old_unit_id, row.new_unit_id): row.id
               for row in db.session.execute(select(UnitSuccession.__table__)).all()}
        audit_new = [(ids[(row["old_unit_id"], row["new_unit_id"])], None, row) for row in inserts]
    if updates:
        db.session.execute(update(UnitSuccession), updates)
    record_bulk("create", "unit_succession", audit_new)
    record_bulk("update", "unit_succession", audit_changed)
    result.inserted += len(inserts)
    result.updated += len(updates)
    result.not_in_file = len(set(existing) - {(old_units[o]["id"], new_units[n]["id"]) for o, n in pairs})
    return result
