"""Words and number formats of the reports, in English and Danish.

Danish labels cover everything a board reads (headings, headline, table headers, map legend,
reasons); ids and data names are shown as the data has them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ..wording import fold, scenario_items

_EN: dict[str, str] = {
    "title": "Business-promotion reform: plan report",
    "made": "Made", "data": "Data", "scenario": "Scenario", "contents": "Contents",
    "headline": "Headline", "map": "Map", "tables": "Tables", "comparison": "Comparison",
    "status": "Status", "gap": "proven gap", "total_cost": "Total cost over the horizon",
    "status_quo": "status quo", "savings": "Savings against the status quo",
    "of_total": "of the total", "of_in_scope": "of what the reform decides",
    "annual_cost": "Annual cost of what the reform decides",
    "jobs": "Estimated jobs", "estimate": "an estimate from the scenario's effect rates",
    "coverage": "Guidance coverage", "rural": "rural", "urban": "urban",
    "worst": "lowest:", "by_service": "Coverage by service", "operators": "Operators",
    "clusters": "Clusters", "local": "local service", "guidance": "guidance",
    "cluster": "cluster service", "travel": "travel to guidance (mean minutes)",
    "change_guidance": "change in guidance coverage vs status quo",
    "change_cluster": "change in cluster coverage vs status quo",
    "entry": "serving entry point", "entry_none": "none (no guidance demand)",
    "added": "added by the scenario", "legend_added": "added by the scenario (dark ring)",
    "firms": "firms", "served": "served", "minutes": "min", "no_data": "no data",
    "kept": "kept", "closed": "closed", "cluster_home": "cluster home",
    "status_optimal": "proven optimal", "status_feasible": "feasible, not proven optimal",
    "status_infeasible": "infeasible", "status_evaluated": "evaluated (status quo)",
    "status_time_limit": "stopped at the time limit",
    "cost_terms": "Cost terms, plan against status quo (M DKK over the horizon)",
    "term": "term", "plan": "plan", "difference": "saved",
    "term_operating": "operating", "term_service": "travel (service)",
    "term_closure": "closures", "term_upgrade": "gold upgrades",
    "term_disruption": "moved firms", "term_unserved_penalty": "unserved (penalty)",
    "term_cluster_operating": "cluster programmes", "term_outside_scope": "outside the reform",
    "term_merger": "mergers",
    "chart_x": "M DKK over the horizon (outside the reform left out)",
    "strongholds": "Clusters per stronghold", "stronghold": "stronghold",
    "selected": "cluster(s)", "label": "label", "merged": "merged into it",
    "members": "members served", "moved": "firms moved",
    "operator_table": "Operators kept and closed, with the reason",
    "name": "name", "kind": "kind", "municipality": "municipality", "fate": "plan",
    "annual": "annual cost (M DKK)", "reason": "reason",
    "regions": "Coverage by region", "municipalities": "Coverage by municipality",
    "region": "region", "share": "guidance", "local_share": "local",
    "cluster_share": "cluster", "travel_col": "travel (min)",
    "why_outside": "outside the reform's scope: not decided",
    "why_forced_keep": "kept by the scenario (keep, keep_kinds)",
    "why_forced_close": "closed by the scenario (close, close_kinds)",
    "why_hosts": "hosts the selected cluster(s) {names}",
    "why_serves": "serves {n} firms",
    "why_merged": "its {n} cluster(s) merged into {names}",
    "why_cheaper": "its firms are served at lower total cost by others",
    "why_few_members": "its cluster(s) had {n} members today, below the {k}-member minimum",
    "why_few_firms": "its {n} firms today are below the {k}-firm minimum",
    "why_inadmissible": "its cluster(s) do not qualify (budget, knowledge partners or label)",
    "price_title": "Price of each policy",
    "price_note": "The plan solved again with one policy relaxed: the price is the cost with "
                  "the policy minus the cost without it, over the horizon (M DKK).",
    "alternatives_title": "Near-optimal alternatives",
    "alternatives_note": "The best distinct operator sets in the order found, and how far "
                         "each is from the first (the best); + kept only by the "
                         "alternative, − kept only by the best; ≈ the same cost as the best "
                         "within the solvers' proven gaps: the model cannot tell the two "
                         "apart.",
    "policy": "policy", "relaxed_to": "relaxed to", "price": "price (M DKK)",
    "price_share": "share of cost", "ops_with_without": "operators with → without",
    "reopened": "would stay open without it", "closed_without": "would close without it",
    "rank": "rank", "cost": "cost (M DKK)", "gap_to_best": "above the best",
    "gap_dkk": "above the best (M DKK)", "changes": "differs from the best",
    "proven": "proven", "yes": "yes", "no": "no",
    "within_gap": "≈ 0 (within the solvers' gap)",
    "and_more": "and {n} more",
    "inputs_differ": "Inputs that differ between the options", "key": "scenario key",
    "clusters_differ": "Clusters whose fate differs between the plans",
    "cluster_selected": "selected", "cluster_not_selected": "not selected",
    "not_set": "not set", "none": "none",
    "robustness_title": "Robustness under the uncertain inputs",
    "batch_title": "Batch",
    "batch_note": "One row per task of the batch's result store (klynge-opt batch or "
                  "robustness): what it varies, its status and figures; cost and savings in "
                  "M DKK over the horizon. Tasks:",
    "changes_col": "what varies", "served_col": "served", "savings_col": "saved",
    "robustness_note": "The operators whose fate is least certain: the share of the "
                       "perturbed samples whose optimum keeps them, with its 95 % interval.",
    "kept_share": "kept in", "interval": "95 % interval", "samples": "samples",
    "study_stale": "{file} was computed for other inputs than this result (its input hash "
                   "differs): run it again before relying on it.",
    "metric": "metric", "decisions_differ": "Operators whose fate differs between the plans",
    "sort_hint": "Click a column header to sort.", "map_hint":
        "Hover a municipality or marker for its figures. Markers: operators kept (filled) and "
        "closed (hollow) by layer; diamonds: homes of the selected clusters.",
    "credit": "Boundaries", "no_plan": "No plan: nothing to map.",
    "legend_local_service": "local service", "legend_entry_point": "entry point",
    "legend_cluster": "cluster layer", "legend_other": "outside the reform",
    "estimates_note": "Estimated jobs are estimates from the scenario's effect rates, for "
                      "comparing plans, not forecasts.",
}

_DA: dict[str, str] = {
    **_EN,
    "title": "Reform af erhvervsfremmesystemet: rapport",
    "made": "Udarbejdet", "data": "Data", "scenario": "Scenarie", "contents": "Indhold",
    "headline": "Hovedtal", "map": "Kort", "tables": "Tabeller", "comparison": "Sammenligning",
    "status": "Status", "gap": "bevist afstand til optimum",
    "total_cost": "Samlet omkostning over perioden", "status_quo": "status quo",
    "savings": "Besparelse i forhold til status quo", "of_total": "af det hele",
    "of_in_scope": "af det reformen beslutter",
    "annual_cost": "Årlig omkostning for det reformen beslutter",
    "jobs": "Anslåede job", "estimate": "et skøn ud fra scenariets effektsatser",
    "coverage": "Dækning med specialiseret vejledning", "rural": "landdistrikter",
    "urban": "by", "worst": "lavest:", "by_service": "Dækning pr. ydelse",
    "operators": "Operatører", "clusters": "Klynger", "local": "lokal erhvervsservice",
    "guidance": "vejledning", "cluster": "klyngeydelse",
    "travel": "rejsetid til vejledning (gns. minutter)",
    "change_guidance": "ændring i vejledningsdækning mod status quo",
    "change_cluster": "ændring i klyngedækning mod status quo",
    "entry": "betjenende indgang", "entry_none": "ingen (ingen efterspørgsel efter vejledning)",
    "added": "tilføjet i scenariet", "legend_added": "tilføjet i scenariet (mørk ring)",
    "firms": "virksomheder", "served": "betjent", "minutes": "min", "no_data": "ingen data",
    "kept": "bevaret", "closed": "lukket", "cluster_home": "klyngens hjemsted",
    "status_optimal": "bevist optimal", "status_feasible": "gyldig, ikke bevist optimal",
    "status_infeasible": "ingen gyldig løsning", "status_evaluated": "vurderet (status quo)",
    "status_time_limit": "stoppet ved tidsgrænsen",
    "cost_terms": "Omkostninger, plan mod status quo (mio. kr. over perioden)",
    "term": "post", "plan": "plan", "difference": "sparet",
    "term_operating": "drift", "term_service": "rejsetid (betjening)",
    "term_closure": "lukninger", "term_upgrade": "guld-opgraderinger",
    "term_disruption": "flyttede virksomheder", "term_unserved_penalty": "ubetjente (straf)",
    "term_cluster_operating": "klyngeprogrammer", "term_outside_scope": "uden for reformen",
    "term_merger": "fusioner",
    "chart_x": "mio. kr. over perioden (det der ligger uden for reformen er udeladt)",
    "strongholds": "Klynger pr. styrkeposition", "stronghold": "styrkeposition",
    "selected": "klynge(r)", "label": "mærke", "merged": "fusioneret ind",
    "members": "betjente medlemmer", "moved": "flyttede virksomheder",
    "operator_table": "Bevarede og lukkede operatører med begrundelse",
    "name": "navn", "kind": "type", "municipality": "kommune", "fate": "plan",
    "annual": "årlig omkostning (mio. kr.)", "reason": "begrundelse",
    "regions": "Dækning pr. region", "municipalities": "Dækning pr. kommune",
    "region": "region", "share": "vejledning", "local_share": "lokal",
    "cluster_share": "klynge", "travel_col": "rejsetid (min)",
    "why_outside": "uden for reformens område: besluttes ikke",
    "why_forced_keep": "bevaret af scenariet (keep, keep_kinds)",
    "why_forced_close": "lukket af scenariet (close, close_kinds)",
    "why_hosts": "driver den valgte klynge {names}",
    "why_serves": "betjener {n} virksomheder",
    "why_merged": "dens {n} klynge(r) er fusioneret ind i {names}",
    "why_cheaper": "dens virksomheder betjenes billigere samlet set af andre",
    "why_few_members": "dens klynge(r) havde {n} medlemmer i dag, under minimum på {k}",
    "why_few_firms": "dens {n} virksomheder i dag er under minimum på {k}",
    "why_inadmissible": "dens klynge(r) opfylder ikke kravene (budget, videnspartnere eller "
                        "mærke)",
    "price_title": "Prisen på hvert politisk krav",
    "price_note": "Planen løst igen med ét krav lempet: prisen er omkostningen med kravet "
                  "minus omkostningen uden det, over perioden (mio. kr.).",
    "alternatives_title": "Næsten lige så gode alternativer",
    "alternatives_note": "De bedste forskellige sæt af operatører i den fundne rækkefølge, "
                         "og hvor langt hvert er fra det første (det bedste); + kun bevaret "
                         "i alternativet, − kun i det bedste; ≈ samme omkostning som det "
                         "bedste inden for løsningernes beviste gap: modellen kan ikke "
                         "skelne dem.",
    "policy": "krav", "relaxed_to": "lempet til", "price": "pris (mio. kr.)",
    "price_share": "andel af omkostningen", "ops_with_without": "operatører med → uden",
    "reopened": "ville forblive åbne uden kravet", "closed_without": "ville lukke uden kravet",
    "rank": "rang", "cost": "omkostning (mio. kr.)", "gap_to_best": "over det bedste",
    "gap_dkk": "over det bedste (mio. kr.)", "changes": "forskel fra det bedste",
    "proven": "bevist", "yes": "ja", "no": "nej",
    "within_gap": "≈ 0 (inden for løsningernes gap)",
    "and_more": "og {n} flere",
    "inputs_differ": "Forudsætninger, der er forskellige mellem mulighederne",
    "key": "scenarienøgle",
    "clusters_differ": "Klynger med forskellig skæbne i planerne",
    "cluster_selected": "valgt", "cluster_not_selected": "ikke valgt",
    "not_set": "ikke angivet", "none": "ingen",
    "robustness_title": "Robusthed over for de usikre input",
    "batch_title": "Kørsel",
    "batch_note": "Én række pr. opgave i kørslens resultatlager (klynge-opt batch eller "
                  "robustness): hvad den varierer, status og tal; omkostning og besparelse i "
                  "mio. kr. over perioden. Opgaver:",
    "changes_col": "hvad varieres", "served_col": "betjent", "savings_col": "sparet",
    "robustness_note": "De operatører, hvis skæbne er mest usikker: andelen af de "
                       "varierede stikprøver, hvis optimum bevarer dem, med 95 %-interval.",
    "kept_share": "bevaret i", "interval": "95 %-interval", "samples": "stikprøver",
    "study_stale": "{file} er beregnet for andre input end dette resultat (input-hash "
                   "afviger): kør den igen, før du bruger den.",
    "metric": "nøgletal", "decisions_differ": "Operatører med forskellig skæbne i planerne",
    "sort_hint": "Klik på en kolonneoverskrift for at sortere.", "map_hint":
        "Hold musen over en kommune eller et mærke for at se tallene. Mærker: bevarede "
        "(udfyldt) og lukkede (tomme) operatører efter lag; romber: de valgte klyngers "
        "hjemsted.",
    "credit": "Kommunegrænser", "no_plan": "Ingen plan: intet at vise på kortet.",
    "legend_local_service": "lokal erhvervsservice", "legend_entry_point": "indgang",
    "legend_cluster": "klyngelaget", "legend_other": "uden for reformen",
    "estimates_note": "Anslåede job er skøn ud fra scenariets effektsatser til at "
                      "sammenligne planer, ikke prognoser.",
}

LABELS: Mapping[str, Mapping[str, str]] = {"en": _EN, "da": _DA}


class Formatter:
    """Numbers as the language writes them: thousands separators, decimal mark, M DKK."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.decimal = "," if lang == "da" else "."
        self.thousands = "." if lang == "da" else ","

    def num(self, value: float | None, digits: int = 0) -> str:
        if value is None:
            return "–"
        text = f"{float(value):,.{digits}f}"
        return text.translate(str.maketrans({",": self.thousands, ".": self.decimal}))

    def pct(self, value: float | None, digits: int = 1) -> str:
        if value is None:
            return "–"
        return f"{self.num(100 * float(value), digits)} %"

    def mdkk(self, value: float | None, unit: bool = True) -> str:
        if value is None:
            return "–"
        text = self.num(float(value) / 1e6, 1)
        if not unit:
            return text
        return f"{text} {'mio. kr.' if self.lang == 'da' else 'M DKK'}"


def scenario_value(raw: object, lang: str, *, chars: int | None = None) -> str | int | float:
    """A resolved scenario value of ``compare``'s input diff as a board reads it: a list by its
    items' names (folded at about ``chars`` characters when given), yes/no, "not set";
    numbers stay numbers, for the page to format and the workbook to type."""
    t = LABELS[lang]
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return t["not_set"]
    items = scenario_items(raw)
    if items is not None:
        if not items:
            return t["none"]
        return fold(items, chars=chars, more=t["and_more"]) if chars else ", ".join(items)
    if isinstance(raw, bool):
        return t["yes"] if raw else t["no"]
    if isinstance(raw, int | float):
        return raw
    return str(raw)
