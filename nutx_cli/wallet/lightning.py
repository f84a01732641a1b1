"""Sats over Lightning: invoices to mint sats (NUT-04) and withdrawals that melt them (NUT-05, NUT-08)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import NamedTuple, TypedDict

from nutx_cli.core.keysets import amount_split
from nutx_cli.core.vocabulary import MeltQuoteState, MintQuoteState, Unit
from nutx_cli.wallet.client import MintClient, MintRefused
from nutx_cli.wallet.errors import WalletError
from nutx_cli.wallet.inputs import Inputs, select_proofs
from nutx_cli.wallet.keysets import Keysets
from nutx_cli.wallet.outputs import Outputs
from nutx_cli.wallet.store import WalletStore
from nutx_cli.wallet.vocabulary import BLANK_AMOUNT

log = logging.getLogger(__name__)

INVOICE_POLL_S = 0.5


class Invoice(NamedTuple):
    """An invoice asked for: the bolt11 request, and the sats minted (0 if not paid within the wait)."""

    request: str
    minted: int


class Withdrawal(TypedDict):
    """A paid invoice: its amount, the Lightning fee paid, the preimage and the change returned."""

    amount: int
    fee: int
    preimage: str | None
    change: int


class Lightning:
    """Mint and melt quotes of one wallet."""

    def __init__(self, store: WalletStore, keysets: Keysets, outputs: Outputs, inputs: Inputs) -> None:
        self.store = store
        self.keysets = keysets
        self.outputs = outputs
        self.inputs = inputs

    async def invoice(self, client: MintClient, amount: int, wait_s: float) -> Invoice:
        """Mint `amount` sats: a mint quote, paid (at once on regtest), then the sats."""
        if amount <= 0:
            raise WalletError("the invoice amount must be positive")
        quote = await client.mint_quote(amount, Unit.SAT)
        with self.store.transaction():
            self.store.add_mint_quote(quote.quote, amount, quote.request, MintQuoteState.UNPAID)
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            minted = await self._mint_if_paid(client, quote.quote, amount)
            if minted or asyncio.get_running_loop().time() >= deadline:
                return Invoice(quote.request, minted)
            await asyncio.sleep(INVOICE_POLL_S)

    async def check_invoices(self, client: MintClient) -> int:
        """Mint the sats of every earlier invoice that has been paid since; returns the sats minted."""
        minted = 0
        for q in self.store.mint_quotes(MintQuoteState.UNPAID):
            try:
                minted += await self._mint_if_paid(client, q["quote"], q["amount"])
            except MintRefused as exc:  # expired, unknown to the mint, or minted by another process
                log.warning("mint quote %s: %s", q["quote"], exc)
                with self.store.transaction():
                    self.store.set_mint_quote_state(q["quote"], exc.name)
        return minted

    async def _mint_if_paid(self, client: MintClient, quote: str, amount: int) -> int:
        state = (await client.mint_quote_state(quote)).state
        if state == MintQuoteState.ISSUED:
            with self.store.transaction():
                self.store.set_mint_quote_state(quote, MintQuoteState.ISSUED)
            return 0
        if state != MintQuoteState.PAID:
            return 0
        sat = await self.keysets.sat_keyset(client)
        keys = await self.keysets.keys(client, sat.id)
        outputs = self.outputs.fresh(sat.id, amount_split(amount))
        sigs = await client.mint(quote, [o.message() for o in outputs])
        proofs, failed = self.outputs.unblind_all(outputs, sigs, keys, "mint")
        self.inputs.replace([], proofs, Unit.SAT, None)
        with self.store.transaction():
            self.store.set_mint_quote_state(quote, MintQuoteState.ISSUED)
            self.store.add_history("invoice", Unit.SAT, amount, None, {"quote": quote})
        self.outputs.check_failures(failed, "mint")
        return amount

    async def withdraw(self, client: MintClient, bolt11: str) -> Withdrawal:
        """Melt sats to pay a BOLT11 invoice; overpaid fee reserve comes back as change (NUT-08)."""
        quote = await client.melt_quote(bolt11.strip(), Unit.SAT)
        amount, reserve = quote.amount, quote.fee_reserve
        proofs = self.store.proofs(unit=Unit.SAT)
        chosen, _ = select_proofs(proofs, amount + reserve)
        fee = await self.keysets.fee(client, chosen)
        if sum(p.amount for p in chosen) - fee < amount + reserve:
            chosen, _ = select_proofs(proofs, amount + reserve + fee)
        sat = await self.keysets.sat_keyset(client)
        keys = await self.keysets.keys(client, sat.id)
        excess = sum(p.amount for p in chosen) - amount
        blanks = self.outputs.fresh(sat.id, [BLANK_AMOUNT] * excess.bit_length())
        answer = await self.inputs.spend(
            client,
            chosen,
            lambda: client.melt(quote.quote, [p.proof for p in chosen], [o.message() for o in blanks]),
        )
        if answer.state != MeltQuoteState.PAID:
            raise WalletError(
                f"the payment is {answer.state}; its proofs stay pending until "
                f"`nutx wallet restore` finds out how it ended"
            )
        change_outs = [replace(o, amount=sig.amount) for o, sig in zip(blanks, answer.change, strict=False)]
        change, failed = self.outputs.unblind_all(change_outs, answer.change, keys, "melt change")
        self.inputs.replace(chosen, change, Unit.SAT, None)
        paid = sum(p.amount for p in chosen) - sum(p.amount for p in change)
        with self.store.transaction():
            self.store.add_history(
                "withdraw",
                Unit.SAT,
                paid,
                None,
                {"invoice": amount, "fee": paid - amount, "preimage": answer.payment_preimage},
            )
        self.outputs.check_failures(failed, "melt")
        return Withdrawal(
            amount=amount,
            fee=paid - amount,
            preimage=answer.payment_preimage,
            change=sum(p.amount for p in change),
        )
