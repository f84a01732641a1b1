"""Solvency property: after random epochs, shares and redeems, Σ paid per epoch ≤ θ_C (DESIGN §4)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nutx_cli.core.keysets import amount_split
from nutx_cli.mint import Mint, MintError
from tests.helpers.mint import mine_shares, open_epoch, outputs, won_epoch

epoch_plan = st.fixed_dictionaries(
    {
        "shares": st.lists(st.integers(0, 20), min_size=1, max_size=25),
        "won": st.booleans(),
        "theta_b": st.integers(0, 10**9),
        "groups": st.integers(1, 5),
        "greedy": st.lists(st.booleans(), min_size=5, max_size=5),
    }
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans=st.lists(epoch_plan, min_size=1, max_size=3), mint_fee=st.integers(0, 5000))
def test_paid_never_exceeds_theta_c(plans: list[dict], mint_fee: int) -> None:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as tmp:
        mint = Mint.open(Path(tmp), mint_fee=mint_fee)
        try:
            asyncio.run(_run(mint, plans))
        finally:
            mint.close()


async def _run(mint: Mint, plans: list[dict]) -> None:  # type: ignore[type-arg]
    sat = mint.sat_keyset.id
    for plan in plans:
        e = open_epoch(mint)
        proofs = await mine_shares(mint, [1 << k for k in plan["shares"]])
        if not plan["won"]:
            mint.close_epoch_lost(e, height=1, now=1)
            continue
        won_epoch(mint, e, theta_b=plan["theta_b"])
        info = mint.epoch(e)
        assert info.price is not None and info.theta_c is not None
        groups = [proofs[i :: plan["groups"]] for i in range(plan["groups"])]
        paid = 0
        for group, greedy in zip(groups, plan["greedy"], strict=False):
            if not group:
                continue
            value = int(sum(p.amount for p in group) * info.price)
            ask = value + 1 if greedy else value
            try:
                sigs = mint.redeem(group, outputs(sat, amount_split(ask) or [1]).messages)
            except MintError as exc:
                assert exc.name == "outputs-exceed-value"
                assert greedy or value == 0
                continue
            paid += sum(s.amount for s in sigs)
        info = mint.epoch(e)
        assert info.theta_c is not None and info.paid == paid <= info.theta_c
    total_paid = sum(x.paid for x in mint.epochs())
    assert mint.liabilities()["sat"] == total_paid
