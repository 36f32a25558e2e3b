"""The budget never overspends, refuses what it cannot pay, and adds up across its tree."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
)

from forage.core.budget import Budget, Caps, CostModel, Usage, usage_of_llm_call
from forage.core.errors import BudgetExhausted, ConfigError


def test_cost_model_defaults_weigh_each_counter():
    cm = CostModel()
    u = Usage(prompt_tokens=100, cached_prompt_tokens=40, completion_tokens=10, search_calls=2)
    assert cm.cost(u) == pytest.approx(60 * 0.25 + 40 * 0.05 + 10 * 1.0 + 2 * 50.0)


def test_cost_model_is_configurable_and_rejects_negative_weights():
    assert CostModel(search_call=0).cost(Usage(search_calls=3)) == 0
    with pytest.raises(ConfigError):
        CostModel(prompt_token=-1)


def test_usage_adds_up():
    a = Usage(prompt_tokens=1, completion_tokens=2, search_calls=1, llm_seconds=0.5)
    b = Usage(prompt_tokens=10, completion_tokens=20, tool_tokens=7, tool_seconds=1.0)
    s = a + b
    assert (s.prompt_tokens, s.completion_tokens, s.search_calls, s.tool_tokens) == (11, 22, 1, 7)
    assert s.seconds == pytest.approx(1.5)


def test_usage_written_before_waits_were_kept_apart_reads_them_as_zero():
    old = {"prompt_tokens": 3, "cached_prompt_tokens": 0, "completion_tokens": 2, "llm_calls": 1,
           "search_calls": 0, "tool_tokens": 0, "llm_seconds": 0.7, "tool_seconds": 0.0}
    u = Usage.from_dict(old)
    assert (u.llm_seconds, u.llm_wait_seconds) == (0.7, 0.0)
    waited = usage_of_llm_call(3, 2, seconds=0.5, wait_seconds=0.25)
    assert Usage.from_dict(waited.to_dict()) == waited
    assert (u + waited).llm_wait_seconds == 0.25 and waited.seconds == 0.5  # own time only


def test_max_tokens_is_clipped_to_what_the_budget_can_pay():
    b = Budget(100)
    r = b.reserve_llm(prompt_tokens=200, max_tokens=500)  # prompt costs 50, leaves 50
    assert r.max_tokens == 50


def test_call_that_cannot_fit_is_refused_and_recorded():
    b = Budget(10)
    with pytest.raises(BudgetExhausted):
        b.reserve_llm(prompt_tokens=100, max_tokens=5)  # prompt alone costs 25
    assert b.ledger.refused_calls == 1
    assert b.spent == 0


def test_search_refused_when_search_cap_reached():
    b = Budget(caps=Caps(search_calls=1))
    b.commit(b.reserve_search(), Usage(search_calls=1))
    with pytest.raises(BudgetExhausted) as e:
        b.reserve_search()
    assert e.value.counter == "search_calls"


def test_token_caps_clip_completion():
    b = Budget(caps=Caps(total_tokens=120))
    assert b.reserve_llm(prompt_tokens=100, max_tokens=64).max_tokens == 20


def test_seconds_cap_is_a_deadline_for_starting_calls():
    b = Budget(caps=Caps(seconds=1.0))
    b.commit(b.reserve_llm(10, 5), usage_of_llm_call(10, 5, seconds=1.5))
    with pytest.raises(BudgetExhausted):
        b.reserve_llm(10, 5)


def test_child_unspent_share_returns_to_parent_on_close():
    root = Budget(1000)
    child = root.split(400)
    assert root.available == pytest.approx(600)
    child.commit(child.reserve_llm(40, 100), usage_of_llm_call(40, 90))  # costs 100
    assert root.available == pytest.approx(600)  # the child still holds the rest
    refund = child.close()
    assert refund == pytest.approx(300)
    assert root.available == pytest.approx(900)
    assert root.spent == pytest.approx(100)


def test_child_cannot_exceed_its_share_even_if_parent_could_pay():
    root = Budget(1000)
    child = root.split(60)
    with pytest.raises(BudgetExhausted):
        child.reserve_search()  # 50 fits
        child.reserve_search()  # the second does not


def test_parent_caps_bind_children():
    root = Budget(caps=Caps(search_calls=2))
    a, b = root.split(500), root.split(500)
    a.commit(a.reserve_search(), Usage(search_calls=1))
    b.commit(b.reserve_search(), Usage(search_calls=1))
    with pytest.raises(BudgetExhausted):
        a.reserve_search()


def test_split_beyond_available_is_refused():
    root = Budget(100)
    root.split(80)
    with pytest.raises(BudgetExhausted):
        root.split(30)


def test_closed_budget_rejects_new_calls_and_open_reservations_block_close():
    root = Budget(100)
    child = root.split(50)
    r = child.reserve_search()
    with pytest.raises(ConfigError):
        child.close()
    child.release(r)
    child.close()
    with pytest.raises(ConfigError):
        child.reserve_search()


def test_a_refund_tops_up_an_open_sibling_and_the_tree_gains_nothing():
    root = Budget(1000)
    a, b = root.split(300), root.split(300)
    a.commit(a.reserve_search(), Usage(search_calls=1))  # a spends 50
    refund = a.close()
    assert refund == pytest.approx(250) and root.available == pytest.approx(650)
    assert b.top_up(refund) == pytest.approx(250)
    assert b.limit == pytest.approx(550) and root.available == pytest.approx(400)
    for _ in range(11):  # 11 searches of 50 = 550: b can now pay for what its share could not
        b.commit(b.reserve_search(), Usage(search_calls=1))
    with pytest.raises(BudgetExhausted):
        b.reserve_search()
    assert b.spent == pytest.approx(550) and root.spent == pytest.approx(600)


def test_top_up_moves_no_more_than_the_parent_has_and_only_into_open_children():
    root = Budget(100)
    child = root.split(80)
    assert child.top_up(50) == pytest.approx(20)  # only 20 were available
    assert child.limit == pytest.approx(100) and root.available == pytest.approx(0)
    assert child.top_up(-5) == 0.0
    child.close()
    with pytest.raises(ConfigError):
        child.top_up(10)
    with pytest.raises(ConfigError):
        root.top_up(10)


def test_ledger_scopes_name_the_subtask():
    root = Budget(1000)
    child = root.split(100, name="q1")
    child.commit(child.reserve_search(), Usage(search_calls=1))
    assert root.ledger.entries[-1].scope == "root/q1"


# -- property tests ---------------------------------------------------------------------------

_CAPS = Caps(completion_tokens=400, total_tokens=1500, search_calls=6)


class BudgetTree(RuleBasedStateMachine):
    """Random reserve / commit / release / split / close / refund / top-up sequences over a budget
    tree."""

    budgets = Bundle("budgets")
    reservations = Bundle("reservations")

    def __init__(self) -> None:
        super().__init__()
        self.root = Budget(2000, caps=_CAPS)
        self.committed = Usage()

    @rule(target=budgets)
    def the_root(self) -> Budget:
        return self.root

    @rule(target=budgets, parent=budgets, fraction=st.floats(0, 1))
    def split(self, parent: Budget, fraction: float) -> Budget:
        if parent.closed:
            return parent
        return parent.share(fraction)

    @rule(target=reservations, b=budgets, prompt=st.integers(0, 600), want=st.integers(1, 300))
    def reserve_llm(self, b: Budget, prompt: int, want: int):
        if b.closed:
            return None
        try:
            r = b.reserve_llm(prompt, want)
        except BudgetExhausted:
            return None
        assert 1 <= r.max_tokens <= want
        return r

    @rule(target=reservations, b=budgets)
    def reserve_search(self, b: Budget):
        if b.closed:
            return None
        try:
            return b.reserve_search()
        except BudgetExhausted:
            return None

    @rule(r=consumes(reservations), used=st.floats(0, 1))
    def commit(self, r, used: float) -> None:
        if r is None or not r.open:
            return
        est = r.estimate
        actual = Usage(
            prompt_tokens=est.prompt_tokens,
            completion_tokens=math.floor(est.completion_tokens * used),
            llm_calls=est.llm_calls,
            search_calls=est.search_calls,
        )
        r.budget.commit(r, actual)
        self.committed = self.committed + actual

    @rule(r=consumes(reservations))
    def release(self, r) -> None:
        if r is not None and r.open:
            r.budget.release(r)

    @precondition(lambda self: True)
    @rule(b=budgets)
    def close(self, b: Budget) -> None:
        if b is self.root or b.closed or b._reserved_units > 0:
            return
        if any(c._reserved_units > 0 for c in _descendants(b)):
            return
        before = b.parent.available if b.parent else 0.0
        refund = b.close()
        assert refund >= 0
        assert b.parent.available == pytest.approx(before + refund, abs=1e-6)

    @rule(b=budgets, units=st.floats(0, 3000))
    def top_up(self, b: Budget, units: float) -> None:
        if b is self.root or b.closed:
            return
        before = b.parent.available
        moved = b.top_up(units)
        assert 0 <= moved <= units
        assert b.parent.available == pytest.approx(before - moved, abs=1e-6)

    @invariant()
    def never_overspends(self) -> None:
        for node in [self.root, *_descendants(self.root)]:
            assert node.spent <= node.limit + 1e-6
        u = self.root.usage
        assert u.completion_tokens <= _CAPS.completion_tokens
        assert u.total_tokens <= _CAPS.total_tokens
        assert u.search_calls <= _CAPS.search_calls
        assert self.root.available >= -1e-6

    @invariant()
    def counters_add_up(self) -> None:
        assert self.root.usage == self.committed
        assert self.root.ledger.usage == self.committed
        assert self.root.spent == pytest.approx(self.root.ledger.compute)
        for node in [self.root, *_descendants(self.root)]:
            kids = sum((c.usage for c in node.children), Usage())
            own = sum(
                (e.usage for e in node.ledger.entries if e.scope == node.path), Usage()
            )
            closed_kids = node.usage - kids - own
            assert closed_kids.completion_tokens >= 0 and closed_kids.search_calls >= 0


def _descendants(b: Budget) -> list[Budget]:
    out = []
    for c in b.children:
        out.append(c)
        out.extend(_descendants(c))
    return out


TestBudgetTree = BudgetTree.TestCase
TestBudgetTree.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


@given(
    limit=st.floats(0, 5000),
    prompts=st.lists(st.tuples(st.integers(0, 400), st.integers(1, 400)), max_size=30),
)
def test_sequential_calls_never_exceed_the_limit(limit, prompts):
    b = Budget(limit)
    for prompt, want in prompts:
        try:
            r = b.reserve_llm(prompt, want)
        except BudgetExhausted:
            continue
        b.commit(r, usage_of_llm_call(prompt, r.max_tokens))
    assert b.spent <= limit + 1e-6
