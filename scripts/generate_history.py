"""Generate the demo notification history (data/history.csv) from data/catalog.csv.

Deterministic: the same seed and catalog give byte-identical output. No network.
Usage: python scripts/generate_history.py [--catalog PATH] [--out PATH] [--seed N] [--count N]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from adapters.domain import NOTIFICATION_COLUMNS

REPO = Path(__file__).resolve().parents[1]
COLUMNS = NOTIFICATION_COLUMNS
HANGUL = re.compile(r"[\uac00-\ud7a3]")
START = datetime(2022, 1, 3, 0, 0)
SPAN_DAYS = 3 * 365


@dataclass(frozen=True)
class Entry:
    """One catalog row."""

    category: str
    code: str
    name_ko: str
    name_en: str
    synonyms: tuple[str, ...]
    parent: str | None

    def ko_forms(self) -> list[str]:
        """Korean written forms (name first)."""
        forms = [self.name_ko, *(s for s in self.synonyms if HANGUL.search(s))]
        return _dedupe(forms)

    def en_forms(self) -> list[str]:
        """Latin-script written forms (name first)."""
        forms = [self.name_en, *(s for s in self.synonyms if not HANGUL.search(s))]
        return _dedupe(forms)


def _dedupe(forms: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for f in forms:
        if f and f.lower() not in seen:
            seen[f.lower()] = f
    return list(seen.values())


def load_catalog(path: Path) -> dict[str, dict[str, Entry]]:
    """Catalog entries by category, then code."""
    out: dict[str, dict[str, Entry]] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            syn = tuple(s.strip() for s in row["synonyms"].split("|") if s.strip())
            e = Entry(
                row["category"].strip(),
                row["code"].strip(),
                row["name_ko"].strip(),
                row["name_en"].strip(),
                syn,
                row["parent"].strip() or None,
            )
            out.setdefault(e.category, {})[e.code] = e
    return out


# --- plausibility tables and phrase banks (scripts/history_phrases.json) ---------------------
#   area_equipment   which equipment lives in which kind of area (kind = area code suffix,
#                    digits dropped), with weights
#   failures         how each equipment class tends to fail (subclass rows override their root)
#   priority_by_fm   priority weights (1..4) shifted by how bad the failure mode usually is
#   components       the parts of each equipment class ([Korean, English] pairs)
#   tag_prefix       tag letters of each equipment class
#   symptom_*, context_*, request_*, extra_*   phrases of the report text, by language
#   resolutions      "<equipment code or root class> <failure mode>": {"ko": [...], "en": [...]}
#   generic_res_*    resolutions for pairs without their own, by failure mode

_TABLES = json.loads((Path(__file__).with_name("history_phrases.json")).read_text("utf-8"))
AREA_EQUIPMENT: dict[str, dict[str, int]] = _TABLES["area_equipment"]
AREA_KIND_ALIASES = {"A": "PROD", "B": "PROD", "C": "PROD"}
FAILURES: dict[str, dict[str, int]] = _TABLES["failures"]
PRIORITY_BY_FM: dict[str, list[int]] = _TABLES["priority_by_fm"]
DEFAULT_PRIORITY = [1, 3, 5, 2]
COMPONENTS: dict[str, list[list[str]]] = _TABLES["components"]
LINE_SERVICE = {"PI-ST": "ST", "PI-CW": "CW"}
# Failure modes that are located on a part of the machine ("seal leak", "bearing noise").
PART_FAILURES = frozenset({"ELP", "VIB", "NOI", "OHE", "STD", "SER", "BRD", "PLU", "INL"})
GENERIC_COMPONENT = [["본체", "body"], ["연결부", "connection"]]
TAG_PREFIX: dict[str, list[str]] = _TABLES["tag_prefix"]
SYMPTOM_KO: dict[str, list[str]] = _TABLES["symptom_ko"]
SYMPTOM_EN: dict[str, list[str]] = _TABLES["symptom_en"]
CONTEXT_KO: list[str] = _TABLES["context_ko"]
CONTEXT_EN: list[str] = _TABLES["context_en"]
REQUEST_KO: list[str] = _TABLES["request_ko"]
REQUEST_EN: list[str] = _TABLES["request_en"]
EXTRA_KO: dict[str, list[str]] = _TABLES["extra_ko"]
EXTRA_EN: dict[str, list[str]] = _TABLES["extra_en"]
RESOLUTIONS: dict[tuple[str, str], tuple[list[str], list[str]]] = {
    (key.split(" ")[0], key.split(" ")[1]): (texts["ko"], texts["en"])
    for key, texts in _TABLES["resolutions"].items()
}
GENERIC_RES_KO: dict[str, list[str]] = _TABLES["generic_res_ko"]
GENERIC_RES_EN: dict[str, list[str]] = _TABLES["generic_res_en"]


# --- generation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Asset:
    """One physical item: an equipment code installed in an area, with a tag."""

    location: str
    equipment: str
    tag: str


class Generator:
    """Builds notifications from the catalog with a seeded RNG."""

    def __init__(self, catalog: dict[str, dict[str, Entry]], seed: int) -> None:
        self.cat = catalog
        self.rng = random.Random(seed)
        self.loc = catalog.get("location", {})
        self.eq = catalog.get("equipment", {})
        self.fm = catalog.get("failure_mode", {})
        self.pri = catalog.get("priority", {})
        self.act = catalog.get("activity", {})
        self.assets = self._build_assets()

    def root(self, code: str) -> str:
        """The top-level equipment class of a code."""
        seen = set()
        while (e := self.eq.get(code)) is not None and e.parent and code not in seen:
            seen.add(code)
            code = e.parent
        return code

    def _lookup(self, table: dict[str, dict[str, int]], code: str) -> dict[str, int]:
        for key in (code, self.root(code)):
            if key in table:
                return {k: v for k, v in table[key].items() if k in self.fm}
        return {k: 1 for k in ("BRD", "SER", "OTH") if k in self.fm}

    def _pick(self, weights: dict[str, int]) -> str:
        keys = sorted(weights)
        return self.rng.choices(keys, weights=[weights[k] for k in keys])[0]

    def _build_assets(self) -> list[Asset]:
        assets: list[Asset] = []
        used: set[str] = set()
        for code in sorted(self.loc):
            entry = self.loc[code]
            if not entry.parent:
                continue
            kind = code.split("-", 1)[-1].rstrip("0123456789") or "PROD"
            kind = AREA_KIND_ALIASES.get(kind, kind)
            profile = AREA_EQUIPMENT.get(kind, AREA_EQUIPMENT["PROD"])
            plant_digit = "".join(ch for ch in entry.parent if ch.isdigit())[:1] or "9"
            for eq_code in sorted(profile):
                if eq_code not in self.eq:
                    continue
                for _ in range(self.rng.choice((1, 1, 2, 3)) * profile[eq_code]):
                    tag = self._new_tag(eq_code, plant_digit, used)
                    assets.append(Asset(code, eq_code, tag))
        return assets

    def _new_tag(self, eq_code: str, plant_digit: str, used: set[str]) -> str:
        prefixes = TAG_PREFIX.get(eq_code, TAG_PREFIX.get(self.root(eq_code), ["EQ"]))
        if not prefixes:
            return ""
        for _ in range(50):
            prefix = self.rng.choice(prefixes)
            number = f"{plant_digit}{self.rng.randint(1, 60):02d}"
            suffix = self.rng.choice(("", "", "A", "B"))
            if prefix == "L":
                size = self.rng.choice(('2"', '3"', '4"', '6"'))
                service = LINE_SERVICE.get(eq_code) or self.rng.choice(("PW", "IA", "N2", "HW"))
                tag = f"{size}-{service}-{number}{suffix}"
            else:
                tag = f"{prefix}-{number}{suffix}"
            if tag not in used:
                used.add(tag)
                return tag
        return ""

    # -- text pieces --

    def _forms(self, entry: Entry, lang: str) -> list[str]:
        forms = entry.ko_forms() if lang == "ko" else entry.en_forms()
        return forms or entry.ko_forms() or entry.en_forms() or [entry.code]

    def loc_text(self, code: str, lang: str) -> str:
        entry = self.loc[code]
        forms = self._forms(entry, lang)
        if entry.parent:
            # Area synonyms like "A동" only make sense with the plant in front of them.
            plant = self.rng.choice(self._forms(self.loc[entry.parent], lang))
            short = self.rng.choice(forms)
            if short in (entry.name_ko, entry.name_en) or any(ch.isdigit() for ch in short):
                return short
            return f"{plant} {short}"
        return self.rng.choice(forms[:3] + forms)

    def eq_text(self, code: str, lang: str) -> str:
        forms = self._forms(self.eq[code], lang)
        return self.rng.choice(forms[:2] + forms)

    def fm_text(self, code: str, lang: str) -> str:
        bank = (SYMPTOM_KO if lang == "ko" else SYMPTOM_EN).get(code)
        forms = self._forms(self.fm[code], lang)
        if bank and self.rng.random() < 0.75:
            return self.rng.choice(bank)
        return self.rng.choice(forms)

    def pri_text(self, code: str, lang: str) -> str:
        return self.rng.choice(self._forms(self.pri[code], lang))

    def act_text(self, code: str, lang: str) -> str:
        return self.rng.choice(self._forms(self.act[code], lang))

    def numbers(self) -> dict[str, str]:
        r = self.rng
        p_norm = r.uniform(3.0, 9.0)
        return {
            "vib": f"{r.uniform(6.5, 14.0):.1f}",
            "vib_ok": f"{r.uniform(1.2, 2.8):.1f}",
            "temp": str(r.randint(78, 115)),
            "temp_ok": str(r.randint(45, 68)),
            "p_norm": f"{p_norm:.1f}",
            "p_low": f"{p_norm * r.uniform(0.5, 0.8):.1f}",
            "p_set": f"{r.uniform(8, 16):.1f}",
            "dp": f"{r.uniform(0.8, 2.5):.1f}",
            "dp_ok": f"{r.uniform(0.1, 0.4):.1f}",
            "n": str(r.randint(2, 9)),
            "pct": str(r.choice((0.25, 0.5, 1.0))),
        }

    # -- one notification --

    def notification(self, when: datetime, itemno: str, is_open: bool) -> dict[str, str]:
        r = self.rng
        asset = r.choice(self.assets)
        location = asset.location
        if r.random() < 0.12:
            location = self.loc[location].parent or location
        eq_code = asset.equipment
        if r.random() < 0.15 and self.eq[eq_code].parent:
            # Some technicians file against the general class.
            eq_code = self.eq[eq_code].parent or eq_code
        fm_code = self._pick(self._lookup(FAILURES, asset.equipment))
        pw = PRIORITY_BY_FM.get(fm_code, DEFAULT_PRIORITY)
        pri_code = self._pick({str(i + 1): w for i, w in enumerate(pw) if str(i + 1) in self.pri})
        lang = r.choices(("ko", "en", "mixed"), weights=(45, 25, 30))[0]
        nums = self.numbers()
        title = self.title(location, eq_code, fm_code, pri_code, asset.tag, lang)
        details = self.details(eq_code, fm_code, asset, lang, nums)
        resolution = "" if is_open else self.resolution(asset.equipment, fm_code, lang, nums)
        return {
            "itemno": itemno,
            "created_at": when.isoformat(timespec="seconds"),
            "location": location,
            "equipment": eq_code,
            "failure_mode": fm_code,
            "priority": pri_code,
            "title": title,
            "details": details,
            "resolution": resolution,
        }

    def title(self, loc: str, eq: str, fm: str, pri: str, tag: str, lang: str) -> str:
        r = self.rng
        show_pri = pri in ("1", "2") and r.random() < 0.6 or r.random() < 0.15
        show_loc = r.random() < 0.8
        if lang == "mixed":
            langs = {k: r.choice(("ko", "en")) for k in ("loc", "eq", "fm", "pri")}
            if len(set(langs.values())) == 1:
                langs["eq"] = "en" if langs["loc"] == "ko" else "ko"
        else:
            langs = dict.fromkeys(("loc", "eq", "fm", "pri"), lang)
        lt = self.loc_text(loc, langs["loc"]) if show_loc else ""
        et = self.eq_text(eq, langs["eq"])
        if tag and r.random() < 0.35:
            et = f"{tag} {et}" if r.random() < 0.7 else tag
        ft = self.fm_text(fm, langs["fm"])
        pt = self.pri_text(pri, langs["pri"]) if show_pri else ""
        head = langs["fm"]
        if head == "ko":
            shapes = [
                "{l} {e} {f}",
                "{e} {f} ({l})",
                "[{p}] {l} {e} {f}",
                "{l} {e} {f}, {p}",
                "{e} {f} 발생 - {l}",
                "{l} {e} {f} 조치 요청",
                "{e} {f}건 {p}",
                "{l} {e}에서 {f}",
            ]
        else:
            shapes = [
                "{e} {f} at {l}",
                "{p} {e} {f} {l}",
                "{l} - {e} {f}",
                "{f} on {e} ({l})",
                "{e} {f}, {p}",
                "[{p}] {l} {e} {f}",
                "{l} {e} {f} pls check",
            ]
        shape = r.choice(shapes)
        text = shape.format(l=lt, e=et, f=ft, p=pt)
        if head == "en" and r.random() < 0.12 and self.act:
            act = r.choice(["REPL", "REPR", "INSP", "CHECK"])
            act_word = act if act == "CHECK" or act not in self.act else self.act_text(act, "en")
            text = f"{act_word} {et} {ft if r.random() < 0.5 else ''} {lt} {pt}"
            text = text.upper()
        elif head == "en" and r.random() < 0.1:
            text = text.upper()
        return _tidy(text)

    def details(self, eq: str, fm: str, asset: Asset, lang: str, nums: dict[str, str]) -> str:
        r = self.rng
        root = self.root(asset.equipment)
        comp_ko, comp_en = r.choice(COMPONENTS.get(root, GENERIC_COMPONENT))
        dlang = lang if lang != "mixed" else r.choice(("ko", "en"))
        if dlang == "ko":
            ctx = r.choice(CONTEXT_KO)
            who = f"{asset.tag} " if asset.tag and r.random() < 0.6 else ""
            eq_word = self.eq_text(eq, "ko" if lang == "ko" else r.choice(("ko", "en")))
            symptom = r.choice(SYMPTOM_KO.get(fm, ["이상"]))
            extra = r.choice(EXTRA_KO.get(fm, [""]) + [""]).format(**nums)
            req = r.choice(REQUEST_KO)
            part = f"{comp_ko} 부위 " if fm in PART_FAILURES else ""
            text = f"{ctx} {who}{eq_word} {part}{symptom}. {extra} {req}"
        else:
            ctx = r.choice(CONTEXT_EN)
            who = f"{asset.tag} " if asset.tag and r.random() < 0.6 else ""
            eq_word = self.eq_text(eq, "en" if lang == "en" else r.choice(("ko", "en")))
            symptom = r.choice(SYMPTOM_EN.get(fm, ["issue"]))
            extra = r.choice(EXTRA_EN.get(fm, [""]) + [""]).format(**nums)
            req = r.choice(REQUEST_EN)
            part = f" at {comp_en}" if fm in PART_FAILURES else ""
            text = f"{ctx} {who}{eq_word} {symptom}{part}. {extra} {req}"
        return _tidy(text)

    def resolution(self, eq: str, fm: str, lang: str, nums: dict[str, str]) -> str:
        r = self.rng
        rlang = lang if lang != "mixed" else r.choice(("ko", "en"))
        idx = 0 if rlang == "ko" else 1
        for key in ((eq, fm), (self.root(eq), fm)):
            if key in RESOLUTIONS:
                text = r.choice(RESOLUTIONS[key][idx])
                break
        else:
            bank = GENERIC_RES_KO if rlang == "ko" else GENERIC_RES_EN
            name = self.eq[eq].name_ko if rlang == "ko" else self.eq[eq].name_en
            if rlang == "en" and name and not name.isupper():
                name = name[0].lower() + name[1:]
            text = r.choice(bank.get(fm, bank["OTH"])).replace("{eq}", name or eq)
            text = text[0].upper() + text[1:]
        text = text.format(**nums)
        if r.random() < 0.2:
            text += r.choice(
                [". 재발 시 재점검 예정", ". 예비품 청구함", ". 운전 확인 완료"]
                if rlang == "ko"
                else [". Monitor for recurrence", ". Spare ordered", ". Returned to service"]
            )
        return text

    def generate(self, count: int) -> list[dict[str, str]]:
        """`count` notifications in time order, itemno numbered per year."""
        r = self.rng
        times = sorted(
            START + timedelta(minutes=r.randint(0, SPAN_DAYS * 24 * 60)) for _ in range(count)
        )
        # Daytime-heavy: pull most timestamps into working hours.
        shifted = []
        for t in times:
            if r.random() < 0.7 and not 7 <= t.hour < 19:
                t = t.replace(hour=r.randint(8, 17))
            shifted.append(t.replace(second=0))
        shifted.sort()
        last = shifted[-1]
        per_year: dict[int, int] = {}
        rows = []
        for t in shifted:
            per_year[t.year] = per_year.get(t.year, 0) + 1
            itemno = f"N{t.year}{per_year[t.year]:06d}"
            is_open = (last - t).days < 14 and r.random() < 0.5
            rows.append(self.notification(t, itemno, is_open))
        return rows


def _tidy(text: str) -> str:
    text = re.sub(r"\(\s*\)|\[\s*\]", "", text)
    text = re.sub(r"\s+([,.)])", r"\1", text)
    text = re.sub(r"^[\s,.\-]+|[\s,\-]+$", "", text)
    text = re.sub(r"\s*-\s*$", "", text)
    text = re.sub(r",\s*,", ",", text)
    return re.sub(r"\s{2,}", " ", text).strip()


def render(rows: list[dict[str, str]]) -> str:
    """CSV text with the notification header, LF line endings."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--catalog", type=Path, default=REPO / "data" / "catalog.csv")
    ap.add_argument("--out", type=Path, default=REPO / "data" / "history.csv")
    ap.add_argument("--seed", type=int, default=14224)
    ap.add_argument("--count", type=int, default=2400)
    args = ap.parse_args(argv)
    gen = Generator(load_catalog(args.catalog), args.seed)
    text = render(gen.generate(args.count))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(text.encode("utf-8"))
    print(f"wrote {args.count} notifications to {args.out}")


if __name__ == "__main__":
    main()
