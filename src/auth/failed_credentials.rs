//! Keeps made-up credentials from being amplified into lookups: every service key or Clerk machine
//! token that no cache knows costs a database query or a call to Clerk's Backend API, so a client
//! must not be able to make those at will.
//!
//! Invariants:
//! - A lookup that ended in a refusal of the credential itself (unknown, revoked, expired, its
//!   organization deleted) is remembered for [`REFUSAL_TTL_MS`]: the same credential again is refused
//!   with the same reason, without a lookup. Outages (`Reason::is_outage`) are never remembered.
//! - Each client (an IPv4 address, or an IPv6 /64: one subscriber's allocation) has a budget of
//!   failed lookups per minute (`auth.failed_credential_budget`). A lookup takes one unit of the
//!   budget before it starts and gives it back only when the credential was accepted, so a burst of
//!   concurrent lookups cannot overshoot the budget, and a client that hangs up mid-lookup pays. A
//!   lookup that an outage left unjudged keeps its unit too: when Clerk or the database is failing,
//!   made-up credentials must not turn into unbounded retries against it. With the budget spent,
//!   lookups are refused (429 with `Retry-After`) until the minute that began with the client's
//!   first lookup is over.
//! - Remembered refusals and answers from the verifiers' own caches cost no lookup and take no
//!   budget: a client repeating a refused credential keeps getting its real reason.
//! - Memory is bounded: both maps are bounded caches; when one is full, an evicted client starts a
//!   fresh budget, which costs at most one more budget's worth of lookups.

use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use moka::sync::Cache;

use crate::clerk::reason::Reason;
use crate::client_ip::ClientNetwork;
use crate::clock::Clock;

/// How long a refusal is repeated without asking again: as long as a positive answer from Clerk is
/// reused (`machine_tokens`), so either verdict is at most a minute old.
pub const REFUSAL_TTL_MS: i64 = 60_000;
/// The budget's period.
pub const WINDOW_MS: i64 = 60_000;
/// Refused credentials remembered (each at most a few hundred bytes: longer ones never get a lookup).
const REFUSALS_CAPACITY: u64 = 10_000;
/// Clients whose budget is tracked.
const CLIENTS_CAPACITY: u64 = 100_000;

/// Why a lookup did not produce a principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The credential was judged (now or within [`REFUSAL_TTL_MS`]), or could not be.
    Credential(Reason),
    /// The client's budget is spent; it may try again after this many seconds.
    BudgetSpent { retry_after_secs: u64 },
}

impl From<Reason> for Refusal {
    fn from(reason: Reason) -> Self {
        Self::Credential(reason)
    }
}

/// A client as the budget counts it: its network as the console's sign-in throttle counts it too
/// ([`ClientNetwork`]: IPv4 addresses one by one, IPv6 by /64). `None`: the address is unknown (no
/// peer address), and all such requests share one budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ClientKey(Option<ClientNetwork>);

impl ClientKey {
    /// For the log: the address, or the /64 (`2001:db8::/64`).
    fn describe(self) -> String {
        match self.0 {
            None => "with no known address".to_owned(),
            Some(network) => network.to_string(),
        }
    }

    fn of(ip: Option<IpAddr>) -> Self {
        Self(ip.map(ClientNetwork::of))
    }
}

/// One client's failed lookups in the current window.
#[derive(Debug)]
struct Window {
    started_ms: i64,
    used: u32,
    /// The client was refused in this window (logged once per window, not per request).
    refused: bool,
}

impl Window {
    fn starting(now: i64) -> Self {
        Self {
            started_ms: now,
            used: 0,
            refused: false,
        }
    }
}

pub struct FailedCredentials {
    clock: Clock,
    budget: u32,
    /// Credential text → (the reason it was refused for, repeated until ms).
    refusals: Cache<Arc<str>, (Reason, i64)>,
    windows: Cache<ClientKey, Arc<Mutex<Window>>>,
}

impl FailedCredentials {
    /// `budget`: failed lookups a client may cause per minute (at least 1).
    pub fn new(clock: Clock, budget: u32) -> Self {
        let window = Duration::from_millis(WINDOW_MS.unsigned_abs());
        Self {
            clock,
            budget: budget.max(1),
            refusals: Cache::builder()
                .max_capacity(REFUSALS_CAPACITY)
                .time_to_live(Duration::from_millis(REFUSAL_TTL_MS.unsigned_abs()))
                .build(),
            // A window lives a minute from its first lookup; the entry with it (real time, the same
            // clock outside tests), so no client's entry outlives its window by much.
            windows: Cache::builder()
                .max_capacity(CLIENTS_CAPACITY)
                .time_to_live(window)
                .build(),
        }
    }

    /// Runs `lookup` for `credential` from `client`, unless the credential was refused recently (its
    /// reason again) or the client's budget is spent; books the outcome.
    pub async fn look_up<T>(
        &self,
        credential: &str,
        client: Option<IpAddr>,
        lookup: impl Future<Output = Result<T, Reason>>,
    ) -> Result<T, Refusal> {
        let now = self.clock.now_ms();
        if let Some((reason, until)) = self.refusals.get(credential) {
            if now < until {
                return Err(Refusal::Credential(reason));
            }
            self.refusals.invalidate(credential);
        }
        let client = ClientKey::of(client);
        let (window, started_ms) = self.take_unit(client, now)?;
        let outcome = lookup.await;
        match &outcome {
            Ok(_) => give_back(&window, started_ms),
            // Not judged: the reason would be stale by the next request.
            Err(reason) if reason.is_outage() => {}
            Err(reason) => {
                self.refusals.insert(
                    Arc::from(credential),
                    (*reason, self.clock.now_ms().saturating_add(REFUSAL_TTL_MS)),
                );
            }
        }
        outcome.map_err(Refusal::Credential)
    }

    /// Takes one unit of `client`'s budget at `now`: its window and the window's start, so the unit
    /// can be given back to that same window.
    fn take_unit(&self, client: ClientKey, now: i64) -> Result<(Arc<Mutex<Window>>, i64), Refusal> {
        let window = self
            .windows
            .get_with(client, || Arc::new(Mutex::new(Window::starting(now))));
        let mut state = window.lock().unwrap_or_else(PoisonError::into_inner);
        let ends = state.started_ms.saturating_add(WINDOW_MS);
        // A wall clock set back must not stretch a window past a minute.
        if now >= ends || now < state.started_ms {
            *state = Window::starting(now);
        } else if state.used >= self.budget {
            let first_refusal = !std::mem::replace(&mut state.refused, true);
            drop(state);
            if first_refusal {
                log::warn!(
                    target: "auth_core::auth",
                    "client {} spent its budget of {} failed credential lookups; refused until its minute is over",
                    client.describe(),
                    self.budget
                );
            }
            // Rounded up: a client that waits exactly this long finds the window over.
            let left_ms = ends.saturating_sub(now).unsigned_abs();
            return Err(Refusal::BudgetSpent {
                retry_after_secs: left_ms.div_ceil(1000),
            });
        }
        state.used += 1;
        let started_ms = state.started_ms;
        drop(state);
        Ok((window, started_ms))
    }
}

/// Returns a unit to the window it was taken from (not to a later one).
fn give_back(window: &Mutex<Window>, started_ms: i64) {
    let mut state = window.lock().unwrap_or_else(PoisonError::into_inner);
    if state.started_ms == started_ms {
        state.used = state.used.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn ipv6_clients_are_counted_by_64_and_mapped_ipv4_as_ipv4() {
        for (one, other, same) in [
            (
                "2001:db8:1:2:aaaa::1",
                "2001:db8:1:2:ffff:ffff:ffff:ffff",
                true,
            ),
            ("2001:db8:1:2::1", "2001:db8:1:3::1", false),
            ("::ffff:192.0.2.7", "192.0.2.7", true),
            ("192.0.2.7", "192.0.2.8", false),
        ] {
            let (one_key, other_key) = (ClientKey::of(ip(one)), ClientKey::of(ip(other)));
            assert_eq!(one_key == other_key, same, "{one} and {other}");
        }
        assert_eq!(ClientKey::of(None), ClientKey(None));
        assert_eq!(
            ClientKey::of(ip("2001:db8:1:2:aaaa::1")).describe(),
            "2001:db8:1:2::/64"
        );
    }

    fn guard_with_budget(budget: u32) -> (FailedCredentials, crate::clock::ManualClock) {
        let (clock, handle) = Clock::manual(NOW);
        (FailedCredentials::new(clock, budget), handle)
    }

    /// Stands in for a verifier's lookup: answers what it is told to and counts how often it was run.
    #[derive(Default)]
    struct Lookups(std::cell::Cell<u32>);

    impl Lookups {
        async fn answer(&self, outcome: Result<(), Reason>) -> Result<(), Reason> {
            self.0.set(self.0.get() + 1);
            outcome
        }

        fn asked(&self) -> u32 {
            self.0.get()
        }
    }

    async fn refused(
        guard: &FailedCredentials,
        credential: &str,
        client: Option<IpAddr>,
    ) -> Refusal {
        guard
            .look_up(credential, client, async {
                Err::<(), _>(Reason::TokenInvalid)
            })
            .await
            .unwrap_err()
    }

    #[actix_web::test]
    async fn the_budget_is_per_client_per_window_and_says_when_it_ends() {
        let (guard, handle) = guard_with_budget(3);
        let client = ip("203.0.113.5");
        for n in 0..3 {
            assert_eq!(
                refused(&guard, &format!("ak_{n}"), client).await,
                Refusal::Credential(Reason::TokenInvalid)
            );
        }
        handle.advance_ms(20_500);
        assert_eq!(
            refused(&guard, "ak_3", client).await,
            Refusal::BudgetSpent {
                retry_after_secs: 40
            }
        );
        // Another client has its own budget; a remembered refusal costs none.
        assert_eq!(
            refused(&guard, "ak_3", ip("203.0.113.6")).await,
            Refusal::Credential(Reason::TokenInvalid)
        );
        assert_eq!(
            refused(&guard, "ak_0", client).await,
            Refusal::Credential(Reason::TokenInvalid)
        );
        handle.advance_ms(39_499);
        assert!(matches!(
            refused(&guard, "ak_4", client).await,
            Refusal::BudgetSpent {
                retry_after_secs: 1
            }
        ));
        handle.advance_ms(1);
        assert_eq!(
            refused(&guard, "ak_4", client).await,
            Refusal::Credential(Reason::TokenInvalid)
        );
        // A clock set back starts a new window rather than stretching this one.
        for n in 5..7 {
            refused(&guard, &format!("ak_{n}"), client).await;
        }
        handle.advance_ms(-3_600_000);
        assert_eq!(
            refused(&guard, "ak_7", client).await,
            Refusal::Credential(Reason::TokenInvalid)
        );
    }

    #[actix_web::test]
    async fn accepted_credentials_take_no_budget() {
        let (guard, _handle) = guard_with_budget(1);
        let client = ip("198.51.100.1");
        let lookups = Lookups::default();
        for _ in 0..5 {
            let ok = guard.look_up("ak_good", client, lookups.answer(Ok(())));
            assert_eq!(ok.await, Ok(()));
        }
        assert_eq!(lookups.asked(), 5, "every one of them was looked up");
        assert_eq!(
            refused(&guard, "ak_bad", client).await,
            Refusal::Credential(Reason::TokenInvalid)
        );
        assert!(matches!(
            refused(&guard, "ak_worse", client).await,
            Refusal::BudgetSpent { .. }
        ));
    }

    /// An outage is not a verdict: not remembered (the same credential is looked up again once the
    /// budget allows), but it takes budget, so an outage does not invite unbounded retries.
    #[actix_web::test]
    async fn outages_take_budget_and_are_not_remembered() {
        let (guard, handle) = guard_with_budget(2);
        let client = ip("198.51.100.2");
        let lookups = Lookups::default();
        let outage = Err(Reason::MachineTokenUnavailable);
        let look = || guard.look_up("ak_unjudged", client, lookups.answer(outage));
        let unavailable = Err(Refusal::Credential(Reason::MachineTokenUnavailable));
        assert_eq!(look().await, unavailable);
        assert_eq!(look().await, unavailable);
        assert_eq!(lookups.asked(), 2, "not remembered");
        assert!(matches!(look().await, Err(Refusal::BudgetSpent { .. })));
        assert_eq!(lookups.asked(), 2);
        handle.advance_ms(WINDOW_MS);
        assert_eq!(look().await, unavailable);
        assert_eq!(lookups.asked(), 3);
    }

    #[actix_web::test]
    async fn a_refusal_is_repeated_without_a_lookup_until_it_is_a_minute_old() {
        let (guard, handle) = guard_with_budget(100);
        let lookups = Lookups::default();
        let revoked = Err(Reason::TokenRevoked);
        let look = || guard.look_up("mt_revoked", ip("192.0.2.1"), lookups.answer(revoked));
        for _ in 0..50 {
            assert_eq!(look().await, Err(Refusal::Credential(Reason::TokenRevoked)));
        }
        assert_eq!(lookups.asked(), 1);
        handle.advance_ms(REFUSAL_TTL_MS - 1);
        look().await.unwrap_err();
        assert_eq!(lookups.asked(), 1);
        handle.advance_ms(1);
        look().await.unwrap_err();
        assert_eq!(
            lookups.asked(),
            2,
            "asked again once the refusal was a minute old"
        );
    }

    /// Concurrent lookups each hold a unit while they run: a burst cannot overshoot the budget.
    #[actix_web::test]
    async fn a_burst_of_concurrent_lookups_stays_within_the_budget() {
        let (guard, _handle) = guard_with_budget(5);
        let (release, released) = tokio::sync::watch::channel(false);
        let started = std::cell::Cell::new(0);
        let lookups = (0..50).map(|n| {
            let mut released = released.clone();
            let started = &started;
            let guard = &guard;
            async move {
                guard
                    .look_up(&format!("oat_{n}"), ip("192.0.2.9"), async move {
                        started.set(started.get() + 1);
                        let _ = released.wait_for(|r| *r).await;
                        Err::<(), _>(Reason::TokenInvalid)
                    })
                    .await
            }
        });
        let all = futures_util::future::join_all(lookups);
        let release_after_all_started = async {
            actix_web::rt::task::yield_now().await;
            release.send(true).unwrap();
        };
        let (outcomes, ()) = futures_util::future::join(all, release_after_all_started).await;
        assert_eq!(started.get(), 5);
        let spent = outcomes
            .iter()
            .filter(|o| matches!(o, Err(Refusal::BudgetSpent { .. })))
            .count();
        assert_eq!(spent, 45);
    }
}
