//! How traitor shows what it found: terminal tables and JSON lines now; HTML and JUnit
//! reports join them here. Everything takes recorded results, never live state.

pub mod check;
