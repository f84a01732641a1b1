"""Swap (NUT-03) and redeem (DESIGN §4): burn verified proofs, sign as much in new outputs.

A swap keeps the unit, and an ehash swap keeps every input and output in one epoch keyset, so no
swap moves work between epochs. A redeem burns ehash proofs of one mature epoch for `sat` outputs
worth at most floor(Σ amounts × price), summed exactly over the request; the epoch's total paid
never passes θ_C. Both follow the request shape of the package docstring; once a request commits,
its burned proofs (and a redeem's epoch, whose `paid` grew) are told to the mint's listeners.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence

from nutx_cli.core.accounting import AccountingError, check_redeem
from nutx_cli.core.models import BlindedMessage, BlindSignature, Proof
from nutx_cli.core.vocabulary import ProofState, Unit
from nutx_cli.mint.epochs import MintEpochs
from nutx_cli.mint.errors import MintError, check_request_size
from nutx_cli.mint.events import MintEvents
from nutx_cli.mint.inputs import Inputs, fee_of
from nutx_cli.mint.keysets import MintKeysets
from nutx_cli.mint.outputs import Outputs, to_models
from nutx_cli.mint.store import MintStore


class Swaps:
    """The mint's swap and redeem requests."""

    def __init__(
        self,
        store: MintStore,
        keysets: MintKeysets,
        epochs: MintEpochs,
        inputs: Inputs,
        outputs: Outputs,
        events: MintEvents,
    ) -> None:
        self._store = store
        self._events = events
        self._keysets = keysets
        self._epochs = epochs
        self._inputs = inputs
        self._outputs = outputs

    def swap(self, inputs: Sequence[Proof], outputs: Sequence[BlindedMessage]) -> list[BlindSignature]:
        checked = self._inputs.check(inputs, outputs)
        if not outputs:
            raise MintError("malformed-request", "no outputs")
        units = {i.keyset.unit for i in checked}
        if len(units) != 1:
            raise MintError("unit-mismatch", f"inputs mix units {sorted(units)}")
        unit = units.pop()
        if unit == Unit.EHASH:
            for i in checked:
                self._epochs.refuse_dead(i.keyset)
        out_keyset = self._outputs.check(outputs, unit)
        assert out_keyset is not None
        if unit == Unit.EHASH and any(i.keyset.id != out_keyset.id for i in checked):
            raise MintError("mixed-keysets", "an ehash swap keeps every input and output in one epoch keyset")
        fee = fee_of(checked)
        total_in = sum(i.proof.amount for i in checked)
        total_out = sum(o.amount for o in outputs)
        if total_in - fee != total_out:
            raise MintError("transaction-unbalanced", f"inputs {total_in} − fee {fee} ≠ outputs {total_out}")
        signed = self._outputs.sign(out_keyset, outputs)
        spends = [i.spend for i in checked]
        with self._store.transaction():
            self._store.lock_proofs(s.Y for s in spends)
            if unit == Unit.EHASH:
                self._epochs.refuse_dead(out_keyset)
            self._inputs.check_unspent(spends)
            self._outputs.check_unsigned(signed)
            self._store.spend(spends, int(time.time()))
            self._outputs.store(signed)
        self._events.proofs(spends, ProofState.SPENT)
        return to_models(signed)

    def redeem(self, inputs: Sequence[Proof], outputs: Sequence[BlindedMessage]) -> list[BlindSignature]:
        """Burn ehash proofs of one mature epoch for `sat` outputs worth ≤ floor(Σ amounts × price)."""
        check_request_size(len(inputs), "inputs", "too-many-proofs")
        if not outputs:
            raise MintError("no-outputs", "a redeem needs at least one sat output")
        checked = self._inputs.check(inputs, outputs)
        if any(i.keyset.unit != Unit.EHASH for i in checked):
            raise MintError("unit-mismatch", "redeem takes ehash proofs only")
        epochs = {self._keysets.epoch_of(i.keyset) for i in checked}
        if len(epochs) != 1:
            raise MintError(
                "mixed-epochs", f"proofs of epochs {sorted(e or 0 for e in epochs)} in one redeem"
            )
        epoch = epochs.pop()
        assert epoch is not None
        self._epochs.redeemable(epoch)
        out_keyset = self._outputs.check(outputs, Unit.SAT)
        assert out_keyset is not None
        signed = self._outputs.sign(out_keyset, outputs)
        spends = [i.spend for i in checked]
        amounts = [i.proof.amount for i in checked]
        with self._store.transaction():
            self._store.lock_proofs(s.Y for s in spends)
            info = self._epochs.redeemable(epoch, lock=True)
            self._inputs.check_unspent(spends)
            self._outputs.check_unsigned(signed)
            assert info.price is not None and info.theta_c is not None
            try:
                payout = check_redeem(
                    amounts, [o.amount for o in outputs], info.price, info.paid, info.theta_c
                )
            except AccountingError as exc:
                raise MintError("outputs-exceed-value", str(exc)) from None
            now = int(time.time())
            self._store.spend(spends, now)
            self._outputs.store(signed)
            self._store.update_epoch(epoch, paid=info.paid + payout)
            self._store.add_redemption(epoch, dict(Counter(amounts)), payout, now)
        self._events.proofs(spends, ProofState.SPENT)
        self._epochs.changed(epoch)
        return to_models(signed)
