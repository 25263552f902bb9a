//! traitor's adversaries: the `Adversary` trait and the built-in traitors (their issue comes after the orchestrator).
