"""Service layers (docs/model.md, Service layers) on the layered tiny landscape, by hand.

conftest.layered_tables: councils L1 (A1) and L2 (B1) give local service, the væksthus O3 (B2)
guidance, O1/O2/O3 host the clusters C1 (food), C2 (ict), C3 (food and ict); the GTS institute
G1 (5000 a year) is out of scope. Defaults: 5 years, 100 DKK per firm-minute, 5000 DKK per
moved member.
"""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import layered_tables, tiny_tables
from klynge_opt.api import solve
from klynge_opt.data.dataset import from_tables
from klynge_opt.data.loading import write_tables
from klynge_opt.data.scenario import Scenario
from klynge_opt.problems import InputError
from klynge_opt.results.check import check_plan, check_result


@pytest.fixture(scope="module")
def layered():
    ds = from_tables(layered_tables())
    return ds, solve(ds, Scenario(name="layered", solver={"mip_gap": 0.0}))


def test_hand_computed_layered_optimum(layered):
    _ds, result = layered
    assert result.status == "optimal" and result.summary["check"]["ok"]
    # C3 alone would load O3 (capacity 6) with 3 guidance firms and 8 members: C1 + C2, and
    # the C3 members F05 (food) and F06 (ict) move.
    selected = set(result.clusters.loc[result.clusters["selected"], "cluster_id"])
    assert selected == {"C1", "C2"}
    terms = result.objective_terms
    # In-scope operators, all kept: (1000 + 1500 + 800 + 200 + 300) x 5.
    assert terms["operating"] == pytest.approx(19_000)
    # Local travel 10+10+2x20+10+10+30+90+20 = 220 firm-minutes, guidance to O3 90+30+70 = 190:
    # 410 x 100 x 5. Cluster members do not commute.
    assert terms["service"] == pytest.approx(205_000)
    assert terms["disruption"] == pytest.approx(10_000)
    assert terms["outside_scope"] == pytest.approx(25_000)
    assert terms["cluster_operating"] == 0 and terms["unserved_penalty"] == 0
    assert result.objective == pytest.approx(259_000)


def test_every_service_has_its_own_rows(layered):
    _, result = layered
    a = result.assignments
    per_service = a.groupby("service")["firm_id"].agg(lambda f: set(f))
    firms = {f"F{i:02d}" for i in range(1, 9)}
    assert per_service["local"] == firms
    assert per_service["guidance"] == {"F01", "F04", "F08"}  # the growth firms
    assert per_service["cluster"] == firms - {"F08"}  # the members
    local = a[a["service"] == "local"].set_index("firm_id")["operator_id"]
    assert set(local) == {"L1", "L2"}
    assert set(a.loc[a["service"] == "guidance", "operator_id"]) == {"O3"}
    cluster = a[a["service"] == "cluster"].set_index("firm_id")
    assert set(cluster.loc[cluster["moved"]].index) == {"F05", "F06"}
    ops = result.operators.set_index("operator_id")
    # A cluster organisation's load is its clusters' members: O1 hosts C1 (F03 weighs 2).
    assert ops.at["O1", "firms_served"] == 5 and ops.at["O2", "firms_served"] == 3
    assert ops.at["G1", "kept"] and not ops.at["G1", "in_scope"]
    assert ops.at["G1", "firms_served"] == 0


def test_status_quo_and_savings_split(layered):
    _, result = layered
    sq = result.summary["status_quo"]
    # Today: the same operators and travel, no moves, every cluster (annual cost 0).
    assert sq["objective"] == pytest.approx(249_000)
    assert sq["objective_terms"]["outside_scope"] == pytest.approx(25_000)
    savings = result.summary["savings"]
    assert savings["total"] == pytest.approx(-10_000)
    assert savings["share"] == pytest.approx(-10_000 / 249_000)
    assert savings["in_scope_share"] == pytest.approx(-10_000 / 224_000)


def test_effect_figures_by_hand(layered):
    ds, result = layered
    effect = result.summary["effect"]
    assert effect["firms_served"] == {"local": 9.0, "guidance": 3.0, "cluster": 8.0}
    # Growth firms count twice: local 12 x 0.1 + guidance 6 x 1.0 + cluster 10 x 0.5.
    assert effect["jobs"] == pytest.approx(12.2)
    assert effect["annual_cost"] == pytest.approx(3800)
    assert effect["cost_per_served_firm"] == pytest.approx(3800 / 9)
    assert effect["cost_per_job"] == pytest.approx(3800 / 12.2)
    assert check_result(result, dataset=ds).ok
    doubled = result.scenario.with_updates({"effect": {"growth_firm_factor": 1.0}})
    again = solve(ds, doubled)
    assert again.summary["effect"]["jobs"] == pytest.approx(0.9 + 3.0 + 4.0)


def test_cluster_annual_cost_and_forced_clusters():
    t = layered_tables()
    # C3 costs nothing a year, C1 and C2 400 each: C3 alone still overloads O3, so C1 + C2
    # stay and pay 800 x 5 = 4000; forcing C3 in and C1 out leaves members unserved.
    t["clusters"]["annual_cost"] = [400.0, 400.0, 0.0]
    ds = from_tables(t)
    result = solve(ds, Scenario(name="costly"))
    assert result.objective_terms["cluster_operating"] == pytest.approx(4000)
    assert result.summary["status_quo"]["objective_terms"]["cluster_operating"] == \
        pytest.approx(4000)
    forced = solve(ds, Scenario(name="forced", policy={"keep_clusters": ["C3"],
                                                       "close_clusters": ["C1"]}))
    assert forced.status == "optimal" and forced.summary["check"]["ok"]
    cl = forced.clusters.set_index("cluster_id")
    assert cl.at["C3", "selected"] and not cl.at["C1", "selected"]
    assert cl.at["C3", "forced"] == "keep" and cl.at["C1", "forced"] == "close"


def test_at_least_rule_allows_more_clusters():
    # Under "exactly" C3 (food and ict) cannot join C1 + C2; under "at_least" keeping C3 is
    # allowed beside them.
    ds = from_tables(layered_tables())
    exact = solve(ds, Scenario(name="x", policy={"keep_clusters": ["C1", "C2", "C3"]}))
    assert exact.status == "infeasible"
    loose = solve(ds, Scenario(name="y", policy={"keep_clusters": ["C1", "C2", "C3"],
                                                 "cluster_rule": "at_least"}))
    assert loose.status == "optimal" and loose.summary["check"]["ok"]


def test_without_kinds_the_model_is_unchanged():
    plain = solve(from_tables(tiny_tables()), Scenario(name="plain"))
    # The layers' keys change nothing without a kinds table.
    keyed = solve(from_tables(tiny_tables()), Scenario(name="keyed", policy={
        "guidance_service": "growth", "cluster_service": "all", "min_members_per_cluster": 3,
        "local": {"coverage": "hard", "max_travel_minutes": 1},
        "cluster": {"max_travel_minutes": 1}}))
    assert plain.objective == keyed.objective == pytest.approx(160_500)
    assert set(plain.assignments["service"]) == {"guidance"}
    # An empty kinds table is no kinds table.
    t = tiny_tables()
    t["kinds"] = pd.DataFrame({"kind": [], "layer": []})
    assert solve(from_tables(t), Scenario(name="empty")).objective == plain.objective


def test_kinds_table_must_name_every_operator_kind():
    t = layered_tables()
    t["kinds"] = t["kinds"][t["kinds"]["kind"] != "gts_institute"]
    with pytest.raises(InputError) as err:
        from_tables(t)
    (problem,) = err.value.problems
    assert problem.column == "kind" and problem.value == "gts_institute"
    assert "unknown kind" in problem.message


def test_secondary_roles_and_dedicated_clusters():
    """C3 covers food and ict; HiGHS's optimum selects C3 alone (160,500; C1 and C2 cost
    the same, and the relaxation's warm start proves that tie instead)."""
    base = solve(from_tables(tiny_tables()), Scenario(name="base",
                                                      solver={"warm_start": "none"}))
    assert set(base.clusters.loc[base.clusters["selected"], "cluster_id"]) == {"C3"}
    # ict is only C3's secondary stronghold: C3 no longer counts for it, C2 must join.
    t = tiny_tables()
    t["cluster_strongholds"]["role"] = ["primary", "primary", "primary", "secondary"]
    ds = from_tables(t)
    secondary = solve(ds, Scenario(name="secondary"))
    cl = secondary.clusters.set_index("cluster_id")
    assert secondary.summary["check"]["ok"]
    assert cl.at["C2", "selected"] and cl.at["C2", "counts_for"] == "ict"
    assert not cl.at["C3", "selected"] or cl.at["C3", "counts_for"] == "food"
    counted = solve(ds, Scenario(name="counted", policy={"count_secondary": True}))
    assert counted.objective == pytest.approx(base.objective)
    # At most one stronghold per cluster: again C3 cannot stand for both.
    dedicated = solve(from_tables(tiny_tables()), Scenario(
        name="dedicated", policy={"max_strongholds_per_cluster": 1}))
    assert dedicated.summary["check"]["ok"]
    counts = dedicated.clusters.set_index("cluster_id")["counts_for"]
    assert all(len(c.split(";")) <= 1 for c in counts)
    assert sorted(s for c in counts for s in c.split(";") if s) == ["food", "ict"]


def test_mergers_by_hand():
    """C3 (food and ict) is left out; its members F05 (food) and F06 (ict) move to C1 and C2
    at 5000 each. Merging C3 into one successor spares one of them: 259,000 -> 254,000."""
    ds = from_tables(layered_tables())
    merged = solve(ds, Scenario(name="merge", policy={"allow_mergers": True}))
    assert merged.status == "optimal" and merged.summary["check"]["ok"]
    assert merged.objective == pytest.approx(254_000)
    into = merged.clusters.set_index("cluster_id")["merged_into"]
    assert into["C3"] in ("C1", "C2") and into["C1"] == into["C2"] == ""
    cluster = merged.assignments[merged.assignments["service"] == "cluster"]
    assert cluster["moved"].sum() == 1
    # A merger costing more than the disruption it spares is not made.
    t = layered_tables()
    t["clusters"]["merge_cost"] = [0.0, 0.0, 6000.0]
    costly = solve(from_tables(t), Scenario(name="costly", policy={"allow_mergers": True}))
    assert costly.objective == pytest.approx(259_000)
    assert set(costly.clusters["merged_into"]) == {""}
    # The successor takes the merged cluster's capacity: C1 (4 places) + C3 (2) hold C1's
    # five members; without the merger one food member would go unserved.
    t = layered_tables()
    t["clusters"]["capacity"] = [4.0, None, 2.0]
    grown = solve(from_tables(t), Scenario(name="grown", policy={"allow_mergers": True}))
    assert grown.summary["check"]["ok"]
    assert grown.clusters.set_index("cluster_id").at["C3", "merged_into"] == "C1"
    assert grown.objective == pytest.approx(254_000)
    assert grown.objective_terms["merger"] == 0
    # A merged cluster's programme goes on inside its successor: with C3 costing 200 a year
    # the merger still spares 5000 of disruption, and its 5 x 200 stays in cluster_operating
    # (and in the plan's annual cost): 254,000 + 1,000.
    t["clusters"]["annual_cost"] = [0.0, 0.0, 200.0]
    carried = solve(from_tables(t), Scenario(name="carried", policy={"allow_mergers": True}))
    assert carried.summary["check"]["ok"]
    assert carried.clusters.set_index("cluster_id").at["C3", "merged_into"] == "C1"
    assert carried.objective_terms["cluster_operating"] == pytest.approx(1_000)
    assert carried.objective == pytest.approx(255_000)


def test_max_effect_within_a_budget():
    """With a low penalty (2000 DKK per unserved firm) the cheapest plan keeps only O3 and
    C3 and serves 2 estimated jobs; the most effect for 3000 DKK a year is 9.7 jobs.

    3000 a year cannot pay O1 + O2 (2500) beside O3 + L1 + L2 (1300), and one cluster per
    stronghold allows {C1, C2} or {C3} only: so C3 with O3, L1, L2 (1300). Local 12 effect
    weights x 0.1, guidance 6 x 1.0, and C3's members within O3's capacity (6 places less 3
    guidance firms): the growth firms F01 and F04 (effect weight 2 each) and one more firm
    of weight 1, 5 x 0.5. In all 1.2 + 6 + 2.5 = 9.7."""
    from klynge_opt.data.scenario import parse_scenario

    with pytest.raises(InputError) as err:
        parse_scenario({"objective": {"sense": "max_effect"}})
    (problem,) = err.value.problems
    assert problem.column == "objective" and "annual_budget" in problem.message
    ds = from_tables(layered_tables())
    policy = {"annual_budget": 3000, "coverage": "soft", "coverage_target": 0}
    costs = {"unserved_penalty_per_firm": 2000}
    cheapest = solve(ds, Scenario(name="cheap", policy=policy, costs=costs))
    best = solve(ds, Scenario(name="best", policy=policy, costs=costs,
                              objective={"sense": "max_effect"}))
    assert cheapest.summary["effect"]["jobs"] == pytest.approx(2.0)
    assert best.status == "optimal" and best.summary["check"]["ok"]
    assert best.summary["effect_optimum"]["jobs"] == pytest.approx(9.7)
    assert best.summary["effect"]["jobs"] == pytest.approx(9.7)
    kept = set(best.operators.loc[best.operators["kept"], "operator_id"])
    assert kept == {"G1", "L1", "L2", "O3"}
    assert best.summary["effect"]["annual_cost"] == pytest.approx(1300)
    # Claiming more effect than the plan has is caught.
    best.summary["effect_optimum"]["jobs"] = 10.0
    assert "effect_optimum" in check_result(best, dataset=ds).constraints


def test_by_stronghold_and_place_reports(layered):
    ds, result = layered
    st = result.by_stronghold.set_index("stronghold_id")
    # food: F01, F03 (weight 2), F05, F07, all members; C1 counts for it; F05 moved from C3;
    # guidance for the growth firm F01. Jobs: local 6 x 0.1 + guidance 2 x 1 + cluster 6 x 0.5.
    assert st.loc["food"].to_dict() == pytest.approx({
        "name": "Food", "firms": 5.0, "clusters_selected": "C1", "cluster_firms": 5.0,
        "cluster_served": 5.0, "firms_moved": 1.0, "guidance_firms": 1.0,
        "guidance_served": 1.0, "jobs": 5.6})
    # ict: F02, F04, F06, F08 (F08 not a member); guidance for F04 and F08 (both growth).
    assert st.loc["ict"].to_dict() == pytest.approx({
        "name": "ICT", "firms": 4.0, "clusters_selected": "C2", "cluster_firms": 3.0,
        "cluster_served": 3.0, "firms_moved": 1.0, "guidance_firms": 2.0,
        "guidance_served": 2.0, "jobs": 6.6})
    places = result.coverage_by_municipality.set_index("municipality_id")
    assert (places["local_share"] == 1).all() and (places["cluster_share"] == 1).all()
    assert places["jobs"].sum() == pytest.approx(12.2)
    # A changed cell is caught.
    result.by_stronghold.loc[result.by_stronghold["stronghold_id"] == "ict", "jobs"] = 7.0
    try:
        assert "report.by_stronghold" in check_result(result, dataset=ds).constraints
    finally:
        result.by_stronghold.loc[result.by_stronghold["stronghold_id"] == "ict", "jobs"] = 6.6


def test_joining_a_cluster_is_not_a_move():
    # With cluster_service = "all" the non-member F08 (ict, growth) joins C2: not moved, no
    # disruption (still 2 x 5000 for F05 and F06); its cluster effect adds 2 x 0.5 jobs.
    ds = from_tables(layered_tables())
    result = solve(ds, Scenario(name="all", policy={"cluster_service": "all"}))
    assert result.summary["check"]["ok"]
    f08 = result.assignments[(result.assignments["firm_id"] == "F08")
                             & (result.assignments["service"] == "cluster")]
    assert f08["cluster_id"].tolist() == ["C2"] and not f08["moved"].any()
    assert result.objective_terms["disruption"] == pytest.approx(10_000)
    assert result.summary["effect"]["jobs"] == pytest.approx(13.2)


def test_cluster_costs_above_the_host_warn():
    t = layered_tables()
    t["clusters"]["annual_cost"] = [1200.0, 0.0, 0.0]  # C1 costs more than its host O1 (1000)
    ds = from_tables(t)
    (warning,) = [p for p in ds.warnings if "clusters operator" in p.message]
    assert warning.severity == "warning" and "O1" in warning.message
    assert warning.column == "annual_cost" and warning.line == 1  # first row (in memory)
    t["clusters"]["annual_cost"] = [900.0, 0.0, 0.0]
    assert not [p for p in from_tables(t).warnings if "clusters operator" in p.message]
    # A host outside the reform's scope is exempt: the GTS institute G1 (5000) running C1 at
    # 6000 a year is paid apart from it.
    t["clusters"]["annual_cost"] = [6000.0, 0.0, 0.0]
    t["clusters"]["operator_id"] = ["G1", "O2", "O3"]
    assert not [p for p in from_tables(t).warnings if "clusters operator" in p.message]
    t["kinds"]["in_scope"] = [True, True, True, True]
    (warning,) = [p for p in from_tables(t).warnings if "clusters operator" in p.message]
    assert "G1" in warning.message


def test_checker_recomputes_the_status_quo(layered):
    ds, result = layered
    assert check_result(result, dataset=ds).ok
    sq = result.summary["status_quo"]
    saved = sq["objective_terms"]["service"], sq["effect"]["jobs"]
    sq["objective_terms"]["service"] += 1000.0
    sq["effect"]["jobs"] = 99.0
    try:
        found = check_result(result, dataset=ds).constraints
        assert {"status_quo.objective_terms.service", "status_quo.effect.jobs"} <= found
    finally:
        sq["objective_terms"]["service"], sq["effect"]["jobs"] = saved


def test_diagnosis_names_the_layer():
    # Hard local coverage within 30 minutes: the island is 90 minutes from L1.
    ds = from_tables(layered_tables())
    result = solve(ds, Scenario(name="x", policy={"local": {"coverage": "hard",
                                                            "max_travel_minutes": 30}}),
                   diagnose=True)
    assert result.status == "infeasible"
    text = result.diagnosis.explain()
    assert "local service: 1 firms unserved in Island (0900)" in text
    assert "remove local.max_travel_minutes (30)" in text


def test_check_plan_verifies_report_tables_in_process(layered):
    ds, result = layered
    tables = {"by_region": result.by_region.copy(), "by_stronghold": result.by_stronghold}
    assert check_plan(ds, result.scenario, result.operators, result.clusters,
                      result.assignments, report_tables=tables).ok
    tables["by_region"].loc[0, "jobs"] += 1.0
    report = check_plan(ds, result.scenario, result.operators, result.clusters,
                        result.assignments, report_tables=tables)
    assert report.constraints == {"report.by_region"}


def test_fewest_changes_with_mergers_reports_the_plans_disruption():
    # The second stage (fewest changes) must count a member relieved by a merger as not
    # moved; otherwise the relief is left free and the reported disruption overstates the plan.
    ds = from_tables(layered_tables())
    result = solve(ds, Scenario(name="fc", policy={"allow_mergers": True, "exempt_strongholds":
                                                   ["food", "ict"]},
                                objective={"secondary": "fewest_changes"}))
    assert result.status == "optimal" and result.summary["check"]["ok"], \
        result.summary["check"]["violations"]


def test_compare_shows_layers_and_effect(tmp_path):
    from klynge_opt.studies.compare import compare

    data = tmp_path / "layered"
    write_tables(layered_tables(), data)
    scenarios = []
    for name, policy in (("base", {}), ("merge", {"allow_mergers": True})):
        path = tmp_path / f"{name}.toml"
        path.write_text(f'name = "{name}"\ndata = "{data.as_posix()}"\n[policy]\n'
                        + "".join(f"{k} = {str(v).lower()}\n" for k, v in policy.items()),
                        encoding="utf-8")
        scenarios.append(path)
    table = compare(scenarios, tmp_path / "cmp").table.set_index("metric")
    assert table.loc["total cost", "base"] == pytest.approx(259_000)
    assert table.loc["total cost", "merge"] == pytest.approx(254_000)
    assert table.loc["estimated jobs", "base"] == pytest.approx(12.2)
    assert table.loc["coverage, cluster service", "merge"] == pytest.approx(1.0)
    assert table.loc["savings share, in scope", "base"] == pytest.approx(-10_000 / 224_000)


def test_a_scenario_can_add_a_cluster():
    """A national cluster formed after the reform, hosted by the væksthus O3 (competent in
    food and ict), covering food with ict as secondary: selectable in the plan, absent from
    today's landscape."""
    ds = from_tables(layered_tables())
    sc = Scenario(name="added", policy={"keep_clusters": ["NAT"], "close_clusters": ["C3"]},
                  overrides={"add_clusters": [{
                      "cluster_id": "NAT", "name": "National Food Cluster", "operator_id": "O3",
                      "strongholds": ["food"], "secondary": ["ict"], "label": "gold",
                      "annual_cost": 100.0}]})
    result = solve(ds, sc)
    assert result.status == "optimal" and result.summary["check"]["ok"]
    cl = result.clusters.set_index("cluster_id")
    # NAT counts for food only (ict is secondary): C2 stands for ict; C1 would be a second
    # food cluster and stays out.
    assert cl.at["NAT", "selected"] and cl.at["NAT", "counts_for"] == "food"
    assert cl.at["C2", "selected"] and not cl.at["C1", "selected"]
    assert result.objective_terms["cluster_operating"] == pytest.approx(500)
    assert result.summary["status_quo"]["clusters"] == 3  # today: no NAT
    assert check_result(result, dataset=ds).ok
    bad = Scenario(name="bad", overrides={"add_clusters": [{
        "cluster_id": "C1", "name": "Twin", "operator_id": "O9", "strongholds": ["fish"]}]})
    with pytest.raises(InputError) as err:
        solve(ds, bad)
    columns = {p.column for p in err.value.problems}
    assert {"overrides.add_clusters[0].cluster_id", "overrides.add_clusters[0].operator_id",
            "overrides.add_clusters[0].strongholds"} <= columns
    messages = {p.column: p.message for p in err.value.problems}
    assert messages["overrides.add_clusters[0].cluster_id"] == "cluster id already exists"
    twin = Scenario(name="twin", overrides={"add_operators": [{
        "operator_id": "O1", "name": "Twin", "municipality_id": "0101", "annual_cost": 1.0,
        "strongholds": ["food"]}]})
    with pytest.raises(InputError) as err:
        solve(ds, twin)
    (problem,) = err.value.problems
    assert (problem.column, problem.message) == ("overrides.add_operators[0].operator_id",
                                                 "operator id already exists")


def test_cost_per_firm_follows_the_firms_served():
    """L1 and L2 cost 50 DKK a year per firm they serve: the nine local firm weights (F03
    weighs 2) add 5 x 50 x 9 = 2,250 to operating, in the plan (259,000 -> 261,250) and in
    the status quo measured by the same yardstick (249,000 -> 251,250); the plan's annual
    cost grows by 450 (3,800 -> 4,250). A table claiming another operating cost is caught."""
    t = layered_tables()
    t["operators"]["cost_per_firm"] = t["operators"]["operator_id"].map(
        {"L1": 50.0, "L2": 50.0}).fillna(0.0)
    ds = from_tables(t)
    result = solve(ds, Scenario(name="per-firm", solver={"mip_gap": 0.0}))
    assert result.status == "optimal" and result.summary["check"]["ok"], result.message
    assert result.objective_terms["operating"] == pytest.approx(21_250)
    assert result.objective == pytest.approx(261_250)
    assert result.summary["status_quo"]["objective"] == pytest.approx(251_250)
    assert result.summary["effect"]["annual_cost"] == pytest.approx(4_250)
    ops = result.operators.set_index("operator_id")
    assert ops.loc[["L1", "L2"], "operating_cost"].sum() == pytest.approx(200 + 300 + 450)
    assert ops.at["G1", "operating_cost"] == pytest.approx(5_000)
    bad = result.operators.copy()
    bad.loc[bad["operator_id"] == "L1", "operating_cost"] += 1.0
    report = check_plan(ds, result.scenario, bad, result.clusters, result.assignments)
    assert "operators_table" in report.constraints
    # Serving the same firms from a closed council's neighbour moves its per-firm cost along:
    # the two councils' per-firm costs are equal, so the optimum does not change with a
    # factor applied to both, only the operating term (x 2: 450 more a year).
    doubled = result.scenario.with_updates({"overrides": {"operators": [
        {"kind": "local_service", "annual_cost_factor": 2.0}]}})
    again = solve(ds, doubled)
    assert again.objective_terms["operating"] == pytest.approx(21_250 + 5 * (500 + 450))


def test_exactly_one_dedicated_cluster_leaves_no_cluster_counting_for_nothing():
    """Dedicated clusters (one stronghold each) under cluster_rule = "exactly": keeping the
    third cluster beside one for food and one for ict would spare its members' moves (O3 is
    kept for guidance anyway), but it would count for no stronghold: two clusters, and the
    checker agrees."""
    ds = from_tables(layered_tables())
    rule = {"max_strongholds_per_cluster": 1, "cluster_rule": "exactly"}
    r = solve(ds, Scenario(name="dedicated", policy=rule, solver={"mip_gap": 0.0}))
    assert r.status == "optimal" and r.summary["check"]["ok"], r.message
    chosen = r.clusters[r.clusters["selected"]]
    assert len(chosen) == 2 and (chosen["counts_for"] != "").all()
    # "at_least" allows the third one, and keeps it when it pays.
    loose = solve(ds, Scenario(name="loose", policy={**rule, "cluster_rule": "at_least"},
                               solver={"mip_gap": 0.0}))
    assert loose.summary["check"]["ok"] and loose.objective <= r.objective
