"""Build evaluation/datasets/retrieval_gold.jsonl from hand-written queries and data/history.csv.

Each query carries an intent (equipment, failure mode, optional location). A history row is
relevant when its failure mode matches and its equipment is the intent's class or a subclass of
it (and, with a location, it is that location or an area under that plant). Queries whose
relevant set is empty are skipped. Deterministic: same inputs give the same bytes.

Usage: python scripts/build_retrieval_gold.py [--catalog PATH] [--history PATH] [--out PATH]
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# (query, equipment, failure_mode, location or None) - written by hand, not from the generator.
QUERIES: list[tuple[str, str, str, str | None]] = [
    # pumps
    ("펌프 누유 조치 이력", "PU", "ELP", None),
    ("pump leaking what did we do last time", "PU", "ELP", None),
    ("펌프 씰에서 물 떨어짐 어떻게 고쳤었나요", "PU", "ELP", None),
    ("mech seal leak on pump, previous fixes?", "PU", "ELP", None),
    ("냉각수 펌프 누수 과거 사례", "PU-CW", "ELP", None),
    ("CW pump seal leaking history", "PU-CW", "ELP", None),
    ("2공장 냉각수펌프 누유 건 있었나요", "PU-CW", "ELP", "P2"),
    ("펌프 진동 원인 뭐였는지", "PU", "VIB", None),
    ("pump vibration high - past repairs", "PU", "VIB", None),
    ("냉각수 펌프 진동 심할때 조치 방법", "PU-CW", "VIB", None),
    ("cooling water pump vibrating, how was it fixed before", "PU-CW", "VIB", None),
    ("펌프에서 이상한 소리 날 때", "PU", "NOI", None),
    ("pump noise bearing replaced?", "PU", "NOI", None),
    ("펌프 베어링 온도 높음 이력", "PU", "OHE", None),
    ("pump running hot previous cases", "PU", "OHE", None),
    ("펌프 토출압 안 나옴", "PU", "LOO", None),
    ("pump low discharge pressure fix", "PU", "LOO", None),
    ("pump flow dropped, impeller worn?", "PU", "LOO", None),
    ("펌프 기동 안될 때 어떻게 했나", "PU", "FTS", None),
    ("pump won't start after power dip", "PU", "FTS", None),
    ("펌프 트립 원인", "PU", "UST", None),
    ("pump tripped on overload history", "PU", "UST", None),
    ("펌프 파손 교체 사례", "PU", "BRD", None),
    ("broken pump shaft", "PU", "BRD", None),
    ("급수펌프 누설", "PU-FW", "ELP", None),
    ("boiler feed pump vibration", "PU-FW", "VIB", None),
    ("BFP 소음", "PU-FW", "NOI", None),
    ("feedwater pump low pressure", "PU-FW", "LOO", None),
    ("정량펌프 토출량 부족", "PU-DS", "LOO", None),
    ("dosing pump output unstable", "PU-DS", "ERO", None),
    ("약품 주입 펌프 누액", "PU-DS", "ELP", None),
    ("진공펌프 진동", "PU-VAC", "VIB", None),
    ("vacuum pump leaking", "PU-VAC", "ELP", None),
    ("vac pump noisy", "PU-VAC", "NOI", None),
    ("수중펌프 막힘 이력", "PU-SUB", "PLU", None),
    ("sump pump fails to start", "PU-SUB", "FTS", None),
    ("배수펌프 트립", "PU-SUB", "UST", None),
    ("응축수 펌프 누수", "PU-CND", "ELP", None),
    ("condensate pump low flow", "PU-CND", "LOO", None),
    ("소화펌프 누수", "PU-FIRE", "ELP", None),
    ("fire pump pressure low", "PU-FIRE", "LOO", None),
    ("슬러리 펌프 마모 누설", "PU-SL", "ELP", None),
    ("lube oil pump vibration", "PU-LO", "VIB", None),
    ("1공장 펌프 누유", "PU", "ELP", "P1"),
    ("3공장 펌프 진동 사례", "PU", "VIB", "P3"),
    ("plant 4 pump leak records", "PU", "ELP", "P4"),
    # compressors
    ("컴프레서 과열 트러블 이력", "CO", "OHE", None),
    ("air compressor overheating how fixed", "CO-AIR", "OHE", None),
    ("에어컴프 온도 높음 알람", "CO-AIR", "OHE", None),
    ("A/C discharge temp high", "CO-AIR", "OHE", None),
    ("공기압축기 압력이 안 올라감", "CO-AIR", "LOO", None),
    ("air comp low pressure, unloader?", "CO-AIR", "LOO", None),
    ("컴프 트립 원인", "CO", "UST", None),
    ("compressor tripped", "CO", "UST", None),
    ("에어 컴프레서 누유", "CO-AIR", "ELP", None),
    ("air compressor oil leak", "CO-AIR", "ELP", None),
    ("압축기 진동", "CO", "VIB", None),
    ("compressor vibration past work orders", "CO", "VIB", None),
    ("air comp won't start", "CO-AIR", "FTS", None),
    ("콤프 소음 심함", "CO", "NOI", None),
    ("왕복동 압축기 진동", "CO-REC", "VIB", None),
    ("recip compressor overheating", "CO-REC", "OHE", None),
    ("터보 압축기 트립", "CO-TUR", "UST", None),
    ("compressor pressure setting drift", "CO", "PDE", None),
    ("4공장 에어컴프 과열", "CO-AIR", "OHE", "P4"),
    # motors
    ("모터 과열 조치", "EM", "OHE", None),
    ("motor overheating what was the cause", "EM", "OHE", None),
    ("전동기 온도 높음 냉각팬", "EM", "OHE", None),
    ("mtr hot, winding temp high", "EM", "OHE", None),
    ("모터 진동 베어링 교체 사례", "EM", "VIB", None),
    ("motor vibration alignment", "EM", "VIB", None),
    ("모터 소음 이력", "EM", "NOI", None),
    ("motor bearing noise", "EM", "NOI", None),
    ("모터 기동불가", "EM", "FTS", None),
    ("motor fails to start MCC", "EM", "FTS", None),
    ("모터 트립 과전류", "EM", "UST", None),
    ("motor tripped overcurrent", "EM", "UST", None),
    ("모터 소손", "EM", "BRD", None),
    ("고압모터 과열", "EM-HV", "OHE", None),
    ("HV motor tripped", "EM-HV", "UST", None),
    ("기어드모터 진동", "EM-GM", "VIB", None),
    ("geared motor won't start", "EM-GM", "FTS", None),
    ("감속모터 과열", "EM-GM", "OHE", None),
    ("2공장 모터 과열 이력", "EM", "OHE", "P2"),
    ("plant 1 motor vibration", "EM", "VIB", "P1"),
    # valves
    ("밸브 패싱 조치", "VA", "INL", None),
    ("valve passing when closed", "VA", "INL", None),
    ("밸브 글랜드 누설", "VA", "ELP", None),
    ("valve gland packing leak", "VA", "ELP", None),
    ("밸브 안 열림 고착", "VA", "FTO", None),
    ("valve stuck, won't open", "VA", "FTO", None),
    ("밸브가 안 닫혀요", "VA", "FTC", None),
    ("valve fails to close fully", "VA", "FTC", None),
    ("컨트롤밸브 헌팅 튜닝", "VA-CV", "ERO", None),
    ("control valve hunting positioner", "VA-CV", "ERO", None),
    ("FCV 출렁임", "VA-CV", "ERO", None),
    ("control valve passing", "VA-CV", "INL", None),
    ("조절밸브 누설", "VA-CV", "ELP", None),
    ("control valve slow to respond", "VA-CV", "DOP", None),
    ("안전밸브 패싱", "VA-SV", "INL", None),
    ("PSV leaking by / passing", "VA-SV", "INL", None),
    ("relief valve set pressure off", "VA-SV", "PDE", None),
    ("PSV 외부 누설", "VA-SV", "ELP", None),
    ("체크밸브 역류", "VA-CK", "INL", None),
    ("check valve chattering noise", "VA-CK", "NOI", None),
    ("NRV not closing", "VA-CK", "FTC", None),
    ("솔밸브 오동작", "VA-SOL", "SPO", None),
    ("solenoid valve won't open", "VA-SOL", "FTO", None),
    ("전자밸브 안닫힘", "VA-SOL", "FTC", None),
    ("solenoid coil burnt", "VA-SOL", "BRD", None),
    ("solenoid valve coil overheating", "VA-SOL", "OHE", None),
    ("스팀트랩 패싱", "VA-ST", "INL", None),
    ("steam trap blocked not draining", "VA-ST", "PLU", None),
    ("차단밸브 안 열림", "VA-XV", "FTO", None),
    ("XV fail to open on demand", "VA-XV", "FTO", None),
    # heat exchangers
    ("열교환기 막힘 세척", "HE", "PLU", None),
    ("heat exchanger fouling high dP", "HE", "PLU", None),
    ("열교환기 누설", "HE", "ELP", None),
    ("HX gasket leak", "HE", "ELP", None),
    ("열교환기 튜브 누설 내부", "HE", "INL", None),
    ("tube leak inside exchanger, cross contamination", "HE", "INL", None),
    ("판형 열교환기 막힘", "HE-PL", "PLU", None),
    ("PHE internal leak plate crack", "HE-PL", "INL", None),
    ("plate heat exchanger leaking", "HE-PL", "ELP", None),
    ("응축기 막힘", "HE-CD", "PLU", None),
    ("fin fan cooler plugged", "HE-AC", "PLU", None),
    ("heat exchanger poor performance", "HE", "LOO", None),
    # fans
    ("송풍기 진동 밸런싱", "FA", "VIB", None),
    ("fan vibration balancing", "FA", "VIB", None),
    ("블로워 소음", "FA", "NOI", None),
    ("blower noisy belt", "FA", "NOI", None),
    ("배기팬 진동", "FA-EX", "VIB", None),
    ("exhaust fan noise", "FA-EX", "NOI", None),
    ("FD fan vibration", "FA-FD", "VIB", None),
    ("ID팬 소음", "FA-ID", "NOI", None),
    ("fan belt broken", "FA", "BRD", None),
    # conveyors
    ("컨베이어 벨트 파손", "CV", "BRD", None),
    ("conveyor belt torn", "CV", "BRD", None),
    ("컨베이어 사행", "CV", "SER", None),
    ("conveyor belt tracking off / loose", "CV", "SER", None),
    ("콘베어 소음", "CV", "NOI", None),
    ("conveyor roller squeal", "CV", "NOI", None),
    ("컨베이어 트립 과부하", "CV", "UST", None),
    ("conveyor stopped by itself", "CV", "UST", None),
    ("conveyor won't stop", "CV", "STP", None),
    ("롤러 컨베이어 멈춤", "CV-RL", "BRD", None),
    ("roller conveyor tripping", "CV-RL", "UST", None),
    ("버킷엘리베이터 진동", "CV-BE", "VIB", None),
    ("screw conveyor noise", "CV-SC", "NOI", None),
    ("3라인 컨베이어 고장", "CV", "BRD", "P2-L3"),
    # boilers / steam
    ("보일러 트립 이력", "BO", "UST", None),
    ("boiler trip flame failure", "BO", "UST", None),
    ("보일러 점화 불량", "BO", "FTS", None),
    ("boiler won't fire", "BO", "FTS", None),
    ("보일러 누수", "BO", "ELP", None),
    ("boiler tube corrosion", "BO", "STD", None),
    ("boiler O2 out of range", "BO", "PDE", None),
    ("스팀배관 누설", "PI-ST", "ELP", None),
    ("steam line leaking", "PI-ST", "ELP", None),
    ("터빈 진동", "TU", "VIB", None),
    ("steam turbine trip", "TU", "UST", None),
    ("이젝터 진공 저하", "EJ", "LOO", None),
    # electrical
    ("변압기 소음", "TR", "NOI", None),
    ("transformer trip", "TR", "UST", None),
    ("변압기 온도계 지시 이상", "TR", "AIR", None),
    ("transformer overheating", "TR", "OHE", None),
    ("배전반 차단기 트립", "SG", "UST", None),
    ("MCC breaker tripping", "SG", "UST", None),
    ("판넬 오동작", "SG", "SPO", None),
    ("인버터 트립 알람", "FC", "UST", None),
    ("VFD fault trip", "FC", "UST", None),
    ("인버터 과열", "FC", "OHE", None),
    ("VFD won't start motor", "FC", "FTS", None),
    ("UPS 고장", "UP", "BRD", None),
    ("UPS battery reading wrong", "UP", "AIR", None),
    ("발전기 기동 실패", "GE", "FTS", None),
    ("비상발전기 시운전 기동불가", "GE-EDG", "FTS", None),
    ("EDG leaking fuel", "GE-EDG", "ELP", None),
    ("조명 고장", "LI", "BRD", None),
    ("lights not working", "LI", "BRD", None),
    ("히터 단선", "HT", "BRD", None),
    ("heater not heating, wont start", "HT", "FTS", None),
    ("heater temperature reading wrong", "HT", "AIR", None),
    # instruments
    ("압력계 지시 이상", "IN-PT", "AIR", None),
    ("pressure transmitter wrong reading", "IN-PT", "AIR", None),
    ("PT 값 헌팅", "IN-PT", "ERO", None),
    ("pressure transmitter drift calibration", "IN-PT", "PDE", None),
    ("온도센서 지시 불량", "IN-TT", "AIR", None),
    ("thermocouple bad reading", "IN-TT", "AIR", None),
    ("RTD drift", "IN-TT", "PDE", None),
    ("레벨계 지시 이상", "IN-LT", "AIR", None),
    ("level transmitter wrong", "IN-LT", "AIR", None),
    ("level gauge drift", "IN-LT", "PDE", None),
    ("유량계 지시값 이상", "IN-FT", "AIR", None),
    ("flow meter fluctuating", "IN-FT", "ERO", None),
    ("가스감지기 오작동", "IN-GD", "SPO", None),
    ("계기 지시 이상 일반", "IN", "AIR", None),
    ("instrument reading erratic", "IN", "ERO", None),
    # filters, dust, tanks, piping
    ("필터 막힘 교체 주기", "FI", "PLU", None),
    ("filter clogged dP high", "FI", "PLU", None),
    ("스트레이너 막힘", "FI-ST", "PLU", None),
    ("strainer plugged", "FI-ST", "PLU", None),
    ("필터 하우징 누설", "FI", "ELP", None),
    ("집진기 고장", "DC", "BRD", None),
    ("탱크 누설", "TK", "ELP", None),
    ("tank leaking nozzle", "TK", "ELP", None),
    ("탱크 부식", "TK", "STD", None),
    ("tank corrosion bottom plate", "TK", "STD", None),
    ("약품탱크 누액", "TK-CH", "ELP", None),
    ("tank level reading wrong", "TK", "AIR", None),
    ("압력용기 부식", "VE", "STD", None),
    ("air receiver leak", "VE", "ELP", None),
    ("배관 누설", "PI", "ELP", None),
    ("pipe leak pinhole", "PI", "ELP", None),
    ("배관 부식 감육", "PI", "STD", None),
    ("piping corrosion thinning", "PI", "STD", None),
    ("pipe vibration", "PI", "VIB", None),
    ("냉각수 배관 누수", "PI-CW", "ELP", None),
    # cranes, doors, misc machines
    ("크레인 고장", "CR", "BRD", None),
    ("crane brake failure", "CR", "BRD", None),
    ("호이스트 소음", "CR", "NOI", None),
    ("hoist won't start", "CR", "FTS", None),
    ("크레인 정지 안됨", "CR", "STP", None),
    ("crane loose bolts", "CR", "SER", None),
    ("셔터 안 열림", "SH", "FTO", None),
    ("rapid door broken", "SH", "BRD", None),
    ("교반기 진동", "AG", "VIB", None),
    ("agitator seal leak", "AG", "ELP", None),
    ("믹서 소음", "AG", "NOI", None),
    ("냉각탑 진동", "CT", "VIB", None),
    ("cooling tower fill clogged", "CT", "PLU", None),
    ("쿨링타워 냉각 성능 저하", "CT", "LOO", None),
    ("칠러 트립", "CH", "UST", None),
    ("chiller not cooling enough", "CH", "LOO", None),
    ("냉동기 과열", "CH", "OHE", None),
    ("에어드라이어 노점 불량", "AD", "PDE", None),
    ("air dryer dew point high", "AD", "PDE", None),
    ("감속기 누유", "GB", "ELP", None),
    ("gearbox oil leak", "GB", "ELP", None),
    ("감속기 소음", "GB", "NOI", None),
    ("gearbox vibration", "GB", "VIB", None),
    ("gear reducer overheating", "GB", "OHE", None),
    ("유압유닛 누유", "HY", "ELP", None),
    ("hydraulic power unit low pressure", "HY", "LOO", None),
    ("HPU oil hot", "HY", "OHE", None),
    ("포장기 고장", "PK", "BRD", None),
    ("packing machine trips", "PK", "UST", None),
    ("wrapper erratic operation", "PK", "ERO", None),
    ("팔레타이저 오작동", "PL", "SPO", None),
    ("palletizer stopped", "PL", "UST", None),
    ("원심분리기 진동", "SE", "VIB", None),
    ("decanter tripping", "SE", "UST", None),
    ("스크러버 부식", "SC", "STD", None),
]


def load_location_parents(path: Path) -> dict[str, str]:
    """Location code -> parent (plant) code."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return {
            r["code"].strip(): r["parent"].strip()
            for r in csv.DictReader(fh)
            if r["category"].strip() == "location" and r["parent"].strip()
        }


def is_under(code: str, ancestor: str, parents: dict[str, str]) -> bool:
    """True when `code` is `ancestor` or below it in the hierarchy."""
    seen: set[str] = set()
    while code and code not in seen:
        if code == ancestor:
            return True
        seen.add(code)
        code = parents.get(code, "")
    return False


def build(catalog: Path, history: Path) -> list[dict[str, object]]:
    """Gold lines for every query with at least one relevant notification."""
    with catalog.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    eq_parents = {
        r["code"].strip(): r["parent"].strip()
        for r in rows
        if r["category"].strip() == "equipment" and r["parent"].strip()
    }
    loc_parents = load_location_parents(catalog)
    with history.open(encoding="utf-8-sig", newline="") as fh:
        notes = list(csv.DictReader(fh))
    out: list[dict[str, object]] = []
    for query, equipment, failure_mode, location in QUERIES:
        relevant = sorted(
            n["itemno"]
            for n in notes
            if n["failure_mode"] == failure_mode
            and is_under(n["equipment"], equipment, eq_parents)
            and (location is None or is_under(n["location"], location, loc_parents))
        )
        if not relevant:
            continue
        line: dict[str, object] = {
            "query": query,
            "relevant": relevant,
            "equipment": equipment,
            "failure_mode": failure_mode,
        }
        if location is not None:
            line["location"] = location
        out.append(line)
    return out


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--catalog", type=Path, default=REPO / "data" / "catalog.csv")
    ap.add_argument("--history", type=Path, default=REPO / "data" / "history.csv")
    ap.add_argument(
        "--out", type=Path, default=REPO / "evaluation" / "datasets" / "retrieval_gold.jsonl"
    )
    args = ap.parse_args(argv)
    lines = build(args.catalog, args.history)
    text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(text.encode("utf-8"))
    print(f"wrote {len(lines)} of {len(QUERIES)} queries to {args.out}")


if __name__ == "__main__":
    main()
