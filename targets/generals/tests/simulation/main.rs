//! Deterministic simulations of the generals: the real protocol core over a simulated,
//! seeded network, with traitors scripted in the test. No sockets, no clock.

mod om_cases;
mod seed_sizes;
mod sim;
mod sm_cases;
mod traitors;
mod variants;
