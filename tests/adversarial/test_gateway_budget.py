"""An agent that fires many model calls at once to get past its budget: the budget holds,
at most one call's worth over (real gunicorn server, fake Anthropic API)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.test_gateway import agent_env, api, call_model, start_run, usage_of, world  # noqa: F401

BUDGET = 0.2


def test_calls_made_at_once_go_over_the_budget_by_one_call_at_most(world):  # noqa: F811
    server, model, _ = world
    run_id = start_run(server, max_budget_usd=BUDGET)
    token = agent_env(run_id)["ANTHROPIC_API_KEY"]
    seen = len(model.requests)
    with ThreadPoolExecutor(10) as pool:
        codes = list(pool.map(lambda _: call_model(server, token, script="slow").status_code,
                              range(10)))
    usage = usage_of(server, run_id)
    one_call = usage["cost_usd"] / usage["calls"]
    assert usage["cost_usd"] <= BUDGET + one_call + 1e-9, usage
    # Every call past the budget was refused before it left; none was lost.
    assert sorted(codes) == [200] * usage["calls"] + [400] * (10 - usage["calls"])
    assert len(model.requests) == seen + usage["calls"]
    assert usage["refused_calls"] == 10 - usage["calls"]
    api(server, "POST", f"/runs/{run_id}/cancel")
