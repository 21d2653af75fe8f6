//! The JWT tolerance probe's search: pure, no clock and no network. Given the answers so far
//! ("accepted/rejected: this claim, sent at s, answered at r"), it decides the next request and,
//! at the end, the two edges, the verifier's offset and leeway, and an honest bound.
//!
//! # The model
//! Let the verifier's clock read τ = t + θ when our clock reads t (θ: verifier − local, the NTP
//! sign) and let it allow a leeway L. A token with `nbf` = C is accepted while C ≤ τ + L, i.e.
//! while C − t ≤ X with **X = θ + L** (the `nbf` edge); one with `exp` = E while τ − L < E,
//! i.e. while t − E < Y with **Y = L − θ** (the `exp` edge). So θ = (X − Y)/2 and L = (X + Y)/2.
//!
//! The verifier reads its clock at some t between our send time s and the answer's arrival r,
//! so one answer to an integer claim bounds an edge without assuming anything about delays:
//! `nbf` accepted ⇒ X ≥ C − r, rejected ⇒ X < C − s; `exp` accepted ⇒ Y > s − E, rejected ⇒
//! Y ≤ r − E. [`Search`] keeps one interval per edge and bisects it: first with requests sent at
//! once (whole seconds, −120 s … +120 s), then, when an interval is under 2 s wide, with each
//! request timed so that it reaches the verifier where the claim puts the boundary in the
//! middle of what is left (integer NumericDates make the edges step at second boundaries, so
//! the phase within the second is what is measured).
//!
//! # Flooring
//! A verifier that floors its clock to the second (`Math.floor(Date.now()/1000)`, a `u64`
//! now) answers integer claims exactly like one with a fractional clock and an integer leeway;
//! with another comparison convention (`exp < now − leeway` rejects, so `exp == floor(now) −
//! leeway` still passes) one edge moves by a whole second, which moves the offset and the
//! leeway by half a second each. Integer claims cannot tell these apart. Two claims at
//! n + ¾ can, once X is known to well under half a second: see [`ClockKind`]. The bound
//! adds 0.5 s unless the verifier showed a fractional clock (or truncates claims to whole
//! seconds, as PyJWT and golang-jwt do, both comparing against a fractional clock).

/// The coarse search covers edges in −`RANGE` … +`RANGE` seconds.
pub const RANGE: f64 = 120.0;
/// Below this width an edge is searched with timed requests.
const COARSE_WIDTH: f64 = 2.0;
/// How early a request is planned beyond the one-way delay (scheduling slack).
const SLACK: f64 = 0.003;
/// Lifetime beyond the claims a probe token needs to stay valid on its other edge.
const MARGIN: f64 = 10.0;
/// The fractional part φ of the clock checks' `nbf` claims (n + φ), and where they put the
/// claim relative to the `nbf` edge: between the fractional and the truncating verifier's
/// edges, and between the floored and the fractional one's.
const CHECK_FRACTION: f64 = 0.75;
const CHECK_TARGETS: [f64; 2] = [0.375, -0.125];
/// What the bound adds when the verifier may floor its clock with either comparison convention.
pub const FLOORING_AMBIGUITY: f64 = 0.5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    /// `nbf` = now + x, accepted while x ≤ X.
    Nbf,
    /// `exp` = now − y, accepted while y < Y.
    Exp,
}

impl Edge {
    pub fn label(self) -> &'static str {
        match self {
            Edge::Nbf => "nbf",
            Edge::Exp => "exp",
        }
    }
}

/// A closed interval of seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

impl Interval {
    pub fn width(&self) -> f64 {
        self.hi - self.lo
    }
    pub fn mid(&self) -> f64 {
        (self.lo + self.hi) / 2.0
    }
}

/// Why a request is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Narrows an edge (integer claim).
    Search,
    /// An `nbf` of n + ¾ placed 0.375 s beyond (`0`) or 0.125 s inside (`1`) the `nbf` edge.
    ClockCheck(usize),
}

/// The next request: the time claims of the token and when it should reach the verifier.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plan {
    pub edge: Edge,
    pub purpose: Purpose,
    /// The claim under test (`nbf` or `exp`), Unix seconds.
    pub claim: f64,
    /// Local time at which the request should reach the verifier; send it one way earlier.
    pub arrive_at: f64,
    /// When to send it (`arrive_at` minus the one-way delay estimate).
    pub send_at: f64,
    pub nbf: Option<f64>,
    pub iat: f64,
    pub exp: f64,
}

/// What the verifier's answers to half-second claims showed about its clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockKind {
    /// `nbf` = n + ¾ behaved as n + ¾: a fractional clock compared with the claim as given.
    Fractional,
    /// It behaved as n: the claim is truncated (PyJWT, golang-jwt), against a fractional clock.
    /// (A floored clock with a leeway whose fraction is ≥ ¾ s answers the same: a limit.)
    TruncatesClaims,
    /// It behaved as n + 1 (or was refused): a clock floored to the second (node jose and
    /// jsonwebtoken, Rust jsonwebtoken).
    Floored,
    /// Not checked (no time or too slow a round trip) or contradictory.
    Unknown,
}

impl ClockKind {
    pub fn ambiguity(self) -> f64 {
        match self {
            ClockKind::Fractional | ClockKind::TruncatesClaims => 0.0,
            ClockKind::Floored | ClockKind::Unknown => FLOORING_AMBIGUITY,
        }
    }
    pub fn describe(self) -> &'static str {
        match self {
            ClockKind::Fractional => "fractional clock, claims compared as given",
            ClockKind::TruncatesClaims => "claims truncated to whole seconds (fractional clock)",
            ClockKind::Floored => "clock floored to the second",
            ClockKind::Unknown => "clock resolution not determined",
        }
    }
}

/// Why a search ended without a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Nothing was ever rejected.
    DoesNotCheckTokens,
    /// Nothing was ever accepted.
    RejectsEverything,
    /// An edge lies outside −120 s … +120 s (or the claim is not checked at all).
    OutOfRange(Edge),
    /// The budget ran out before the edge was located within the range.
    NotFound(Edge),
    /// Answers that no threshold explains (a flapping verifier, or several behind a balancer).
    Inconsistent(Edge),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::DoesNotCheckTokens => write!(f, "the target does not check tokens (it accepted every probe token)"),
            Failure::RejectsEverything => write!(f, "the target rejected every probe token (wrong key, audience or issuer?)"),
            Failure::OutOfRange(Edge::Nbf) => write!(f, "the nbf edge is outside ±{RANGE} s (nbf not checked, or the clock is that far off)"),
            Failure::OutOfRange(Edge::Exp) => write!(f, "the exp edge is outside ±{RANGE} s (exp not checked, or the clock is that far off)"),
            Failure::NotFound(e) => write!(f, "the time budget ran out before the {} edge was found", e.label()),
            Failure::Inconsistent(e) => write!(f, "the {} answers contradict each other (flapping verifier, or several behind a balancer?)", e.label()),
        }
    }
}

/// One answer, fed back with the plan it answers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Answer {
    pub plan: Plan,
    /// Local time just before the request was sent.
    pub sent: f64,
    /// Local time the answer arrived.
    pub received: f64,
    pub accepted: bool,
}

/// The result: edges, derived offset and leeway, their bound.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub nbf_edge: Interval,
    pub exp_edge: Interval,
    pub offset: f64,
    pub leeway: f64,
    /// Half-width of the interval around `offset` and around `leeway` that holds the truth.
    pub bound: f64,
    pub clock: ClockKind,
}

#[derive(Clone, Copy, Debug, Default)]
struct EdgeState {
    accepted: bool,
    rejected: bool,
    inconsistent: bool,
}

/// The search state. Call [`Search::next`] for a plan, send it, [`Search::answer`] with what
/// happened, until `next` returns `None`; then [`Search::finish`].
#[derive(Clone, Debug)]
pub struct Search {
    x: Interval,
    y: Interval,
    xs: EdgeState,
    ys: EdgeState,
    /// Answers to the two clock checks (`None`: not sent, or sent but inconclusive).
    checks: [Option<bool>; 2],
    check_tries: [u32; 2],
    requests: u32,
    max_requests: u32,
    precision: f64,
    min_rtt: Option<f64>,
}

impl Search {
    /// `precision`: stop narrowing an edge below this width (seconds).
    pub fn new(max_requests: u32, precision: f64) -> Self {
        let unknown = Interval {
            lo: -RANGE - 1.0,
            hi: RANGE + 1.0,
        };
        Search {
            x: unknown,
            y: unknown,
            xs: EdgeState::default(),
            ys: EdgeState::default(),
            checks: [None; 2],
            check_tries: [0; 2],
            requests: 0,
            max_requests,
            precision,
            min_rtt: None,
        }
    }

    pub fn requests(&self) -> u32 {
        self.requests
    }

    pub fn edges(&self) -> (Interval, Interval) {
        (self.x, self.y)
    }

    fn interval(&self, edge: Edge) -> Interval {
        match edge {
            Edge::Nbf => self.x,
            Edge::Exp => self.y,
        }
    }

    fn state(&self, edge: Edge) -> EdgeState {
        match edge {
            Edge::Nbf => self.xs,
            Edge::Exp => self.ys,
        }
    }

    fn one_way(&self) -> f64 {
        self.min_rtt.unwrap_or(0.0) / 2.0
    }

    /// The width below which an edge is not narrowed further: answers blur it by a round trip.
    fn floor_width(&self) -> f64 {
        self.precision.max(1.5 * self.min_rtt.unwrap_or(0.0))
    }

    /// Out of the range, known from the answers so far.
    /// (Accepted at the top of the range and never refused, or the reverse.)
    fn out_of_range(&self, edge: Edge) -> bool {
        let (i, s) = (self.interval(edge), self.state(edge));
        i.hi < -RANGE
            || i.lo > RANGE
            || (!s.rejected && i.lo >= RANGE - 1.0)
            || (!s.accepted && i.hi <= -RANGE + 1.0)
    }

    fn needs(&self, edge: Edge) -> bool {
        let s = self.state(edge);
        !s.inconsistent
            && !self.out_of_range(edge)
            && self.interval(edge).width() > self.floor_width()
    }

    /// The next request, or `None` when done or when the next one would not be answered
    /// before `deadline` (local Unix seconds).
    pub fn next(&self, now: f64, deadline: f64) -> Option<Plan> {
        if self.requests >= self.max_requests || self.xs.inconsistent || self.ys.inconsistent {
            return None;
        }
        let plan = self.choose(now)?;
        // The answer must be back before the deadline.
        (plan.arrive_at + self.one_way() + SLACK <= deadline).then_some(plan)
    }

    fn choose(&self, now: f64) -> Option<Plan> {
        let earliest = now + self.one_way() + SLACK;
        let (nx, ny) = (self.needs(Edge::Nbf), self.needs(Edge::Exp));
        // `exp` first: the `nbf` tokens need a valid `exp`, placed beyond what is known of Y.
        if ny && self.y.width() > COARSE_WIDTH {
            return Some(self.search_plan(Edge::Exp, earliest, false));
        }
        if nx && self.x.width() > COARSE_WIDTH {
            return Some(self.search_plan(Edge::Nbf, earliest, false));
        }
        // The clock checks as soon as X is narrow enough: they decide half a second of the
        // bound, more than any further narrowing.
        if let Some(p) = self.check_plan(earliest) {
            return Some(p);
        }
        let fine: Vec<Plan> = [(Edge::Nbf, nx), (Edge::Exp, ny)]
            .into_iter()
            .filter(|&(_, n)| n)
            .map(|(e, _)| self.search_plan(e, earliest, true))
            .collect();
        if let Some(p) = fine
            .into_iter()
            .min_by(|a, b| a.arrive_at.total_cmp(&b.arrive_at))
        {
            return Some(p);
        }
        None
    }

    /// Claim and arrival that put the boundary at the middle of the edge's interval (clamped
    /// to the range, so that its ends are tested too).
    fn search_plan(&self, edge: Edge, earliest: f64, timed: bool) -> Plan {
        let m = self.interval(edge).mid().clamp(-RANGE, RANGE);
        let (claim, arrive_at) = match (edge, timed) {
            (Edge::Nbf, false) => ((earliest + m).round(), earliest),
            (Edge::Nbf, true) => {
                let c = (earliest + m).ceil();
                (c, c - m)
            }
            (Edge::Exp, false) => ((earliest - m).round(), earliest),
            (Edge::Exp, true) => {
                let e = (earliest - m).ceil();
                (e, e + m)
            }
        };
        self.plan(edge, Purpose::Search, claim, arrive_at)
    }

    /// The two half-second `nbf` claims, once X is known well enough.
    fn check_plan(&self, earliest: f64) -> Option<Plan> {
        if self.out_of_range(Edge::Nbf) || self.out_of_range(Edge::Exp) {
            return None;
        }
        let k = (0..2).find(|&k| self.checks[k].is_none() && self.check_tries[k] < 2)?;
        let rtt = self.min_rtt.unwrap_or(0.0);
        // Both claims need 0.25 s of margin around an edge known to within its width.
        if self.x.width() + rtt > 0.2 {
            return None;
        }
        let target = self.x.mid() + CHECK_TARGETS[k];
        // C − t = target with C = n + φ.
        let c = (earliest + target - CHECK_FRACTION).ceil() + CHECK_FRACTION;
        Some(self.plan(Edge::Nbf, Purpose::ClockCheck(k), c, c - target))
    }

    fn plan(&self, edge: Edge, purpose: Purpose, claim: f64, arrive_at: f64) -> Plan {
        let (nbf, iat, exp) = match edge {
            Edge::Nbf => {
                // Valid on the `exp` side: beyond the largest y the verifier could still refuse.
                let y_lo = if self.y.lo < -RANGE {
                    -RANGE
                } else {
                    self.y.lo
                };
                let exp = claim.max(arrive_at).max(arrive_at - y_lo) + MARGIN;
                (Some(claim), claim, exp.ceil())
            }
            // `iat` far enough back that no verifier within the range calls it "issued in the
            // future" (which would read as an `exp` rejection).
            Edge::Exp => (None, claim.min(arrive_at.floor()) - RANGE - MARGIN, claim),
        };
        Plan {
            edge,
            purpose,
            claim,
            arrive_at,
            send_at: arrive_at - self.one_way(),
            nbf,
            iat,
            exp,
        }
    }

    /// Counts a request whose answer ended the probe (a redirect, 429, 5xx).
    pub fn count_unanswered(&mut self) {
        self.requests += 1;
    }

    /// Records one answer.
    pub fn answer(&mut self, a: &Answer) {
        self.requests += 1;
        let rtt = (a.received - a.sent).max(0.0);
        self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
        match a.plan.purpose {
            Purpose::Search => self.narrow(a),
            Purpose::ClockCheck(k) => self.check(k, a),
        }
    }

    fn narrow(&mut self, a: &Answer) {
        let c = a.plan.claim;
        let (interval, state) = match a.plan.edge {
            Edge::Nbf => (&mut self.x, &mut self.xs),
            Edge::Exp => (&mut self.y, &mut self.ys),
        };
        match (a.plan.edge, a.accepted) {
            (Edge::Nbf, true) => interval.lo = interval.lo.max(c - a.received),
            (Edge::Nbf, false) => interval.hi = interval.hi.min(c - a.sent),
            (Edge::Exp, true) => interval.lo = interval.lo.max(a.sent - c),
            (Edge::Exp, false) => interval.hi = interval.hi.min(a.received - c),
        }
        if a.accepted {
            state.accepted = true;
        } else {
            state.rejected = true;
        }
        if interval.lo > interval.hi {
            state.inconsistent = true;
        }
    }

    fn check(&mut self, k: usize, a: &Answer) {
        self.check_tries[k] += 1;
        let c = a.plan.claim;
        let (early, late) = (c - a.received, c - a.sent);
        // Conclusive only when every verifier kind's answer is determined by the known X.
        // Truncating: accepted while C − t ≤ X + φ; fractional: ≤ X; floored: ≤ X − (1 − φ).
        let conclusive = if k == 0 {
            early > self.x.hi && late < self.x.lo + CHECK_FRACTION
        } else {
            late < self.x.lo && early > self.x.hi - (1.0 - CHECK_FRACTION)
        };
        if conclusive {
            self.checks[k] = Some(a.accepted);
        }
    }

    /// What the clock checks showed.
    pub fn clock(&self) -> ClockKind {
        match self.checks {
            [Some(false), Some(true)] => ClockKind::Fractional,
            [Some(true), Some(true)] => ClockKind::TruncatesClaims,
            [Some(false), Some(false)] => ClockKind::Floored,
            _ => ClockKind::Unknown,
        }
    }

    /// The result, or why there is none.
    pub fn finish(&self) -> Result<Estimate, Failure> {
        let any_accept = self.xs.accepted || self.ys.accepted;
        let any_reject = self.xs.rejected || self.ys.rejected;
        if !any_reject && any_accept {
            return Err(Failure::DoesNotCheckTokens);
        }
        if !any_accept && any_reject {
            return Err(Failure::RejectsEverything);
        }
        for edge in [Edge::Exp, Edge::Nbf] {
            if self.state(edge).inconsistent {
                return Err(Failure::Inconsistent(edge));
            }
            if self.out_of_range(edge) {
                return Err(Failure::OutOfRange(edge));
            }
            let i = self.interval(edge);
            if i.lo < -RANGE || i.hi > RANGE {
                return Err(Failure::NotFound(edge));
            }
        }
        let (x, y) = (self.x, self.y);
        let clock = self.clock();
        Ok(Estimate {
            nbf_edge: x,
            exp_edge: y,
            offset: (x.mid() - y.mid()) / 2.0,
            leeway: (x.mid() + y.mid()) / 2.0,
            bound: (x.width() + y.width()) / 4.0 + clock.ambiguity(),
            clock,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A simulated verifier: its clock, leeway, and how it compares.
    #[derive(Clone, Copy, Debug)]
    struct Verifier {
        /// Verifier clock − local clock.
        theta: f64,
        leeway: f64,
        floors: bool,
        /// Truncates claims to whole seconds (PyJWT).
        truncates: bool,
        /// Refuses non-integer claims (as malformed).
        integer_only: bool,
        /// `exp < now − leeway` rejects (Rust jsonwebtoken) instead of `exp <= now − leeway`.
        lenient_exp: bool,
        /// Never looks at `nbf` nor `iat` (the `nbf` probes carry `iat` = `nbf`).
        ignores_nbf: bool,
    }

    impl Verifier {
        fn accepts(&self, p: &Plan, local: f64) -> bool {
            let raw = local + self.theta;
            let now = if self.floors { raw.floor() } else { raw };
            let claim = |c: f64| if self.truncates { c.trunc() } else { c };
            if self.integer_only
                && [p.nbf.unwrap_or(0.0), p.iat, p.exp]
                    .iter()
                    .any(|c| c.fract() != 0.0)
            {
                return false;
            }
            let exp = claim(p.exp);
            let exp_ok = if self.lenient_exp {
                exp >= now - self.leeway
            } else {
                exp > now - self.leeway
            };
            let nbf_ok = self.ignores_nbf || p.nbf.is_none_or(|n| claim(n) <= now + self.leeway);
            let iat_ok = self.ignores_nbf || claim(p.iat) <= now + self.leeway;
            exp_ok && nbf_ok && iat_ok
        }
    }

    /// Runs a search against `v` with a simulated clock; `phase` ∈ [0, 1) places the verifier's
    /// clock reading inside each round trip.
    fn run(v: Verifier, start: f64, rtt: f64, phase: f64, max: u32, budget: f64) -> Search {
        let mut s = Search::new(max, 0.02);
        let mut now = start;
        let deadline = start + budget;
        while let Some(plan) = s.next(now, deadline) {
            let sent = now.max(plan.send_at);
            let received = sent + rtt;
            let accepted = v.accepts(&plan, sent + phase * rtt);
            s.answer(&Answer {
                plan,
                sent,
                received,
                accepted,
            });
            now = received;
        }
        s
    }

    fn fractional(theta: f64, leeway: f64) -> Verifier {
        Verifier {
            theta,
            leeway,
            floors: false,
            truncates: false,
            integer_only: false,
            lenient_exp: false,
            ignores_nbf: false,
        }
    }

    #[test]
    fn finds_a_fractional_verifier_exactly() {
        let v = fractional(3.0, 10.0);
        let s = run(v, 1_790_000_000.37, 0.002, 0.5, 40, 10.0);
        let e = s.finish().unwrap();
        assert!((e.offset - 3.0).abs() <= e.bound, "{e:?}");
        assert!((e.leeway - 10.0).abs() <= e.bound, "{e:?}");
        assert_eq!(e.clock, ClockKind::Fractional);
        assert!(e.bound <= 0.05, "{e:?}");
        assert!(s.requests() <= 40);
    }

    #[test]
    fn pyjwt_truncation_is_recognised_and_tight() {
        let v = Verifier {
            truncates: true,
            ..fractional(-2.0, 0.0)
        };
        let e = run(v, 1_790_000_000.81, 0.002, 0.3, 40, 10.0)
            .finish()
            .unwrap();
        assert_eq!(e.clock, ClockKind::TruncatesClaims);
        assert!(
            (e.offset + 2.0).abs() <= e.bound && e.bound <= 0.05,
            "{e:?}"
        );
        assert!(e.leeway.abs() <= e.bound, "{e:?}");
    }

    #[test]
    fn a_floored_clock_gets_half_a_second() {
        let v = Verifier {
            floors: true,
            ..fractional(1.3, 5.0)
        };
        let e = run(v, 1_790_000_000.1, 0.002, 0.9, 40, 10.0)
            .finish()
            .unwrap();
        assert_eq!(e.clock, ClockKind::Floored);
        assert!(e.bound >= FLOORING_AMBIGUITY && e.bound <= 0.55, "{e:?}");
        assert!(
            (e.offset - 1.3).abs() <= e.bound && (e.leeway - 5.0).abs() <= e.bound,
            "{e:?}"
        );
    }

    #[test]
    fn a_rust_style_verifier_is_covered_by_the_bound() {
        // Floors, refuses fractional claims, lets exp == now − leeway pass.
        let v = Verifier {
            floors: true,
            integer_only: true,
            lenient_exp: true,
            ..fractional(0.0, 5.0)
        };
        let e = run(v, 1_790_000_000.5, 0.001, 0.5, 40, 10.0)
            .finish()
            .unwrap();
        assert_eq!(e.clock, ClockKind::Floored);
        assert!(
            e.offset.abs() <= e.bound && (e.leeway - 5.0).abs() <= e.bound,
            "{e:?}"
        );
    }

    #[test]
    fn the_budgets_are_kept() {
        let v = fractional(0.4, 2.0);
        let s = run(v, 1_790_000_000.0, 0.01, 0.5, 12, 60.0);
        assert_eq!(s.requests(), 12);
        let s = run(v, 1_790_000_000.0, 0.01, 0.5, 40, 1.5);
        // Every answer arrived before the deadline, and the result is still honest.
        let e = s.finish().unwrap();
        assert!(
            (e.offset - 0.4).abs() <= e.bound && (e.leeway - 2.0).abs() <= e.bound,
            "{e:?}"
        );
    }

    #[test]
    fn plans_respect_the_deadline() {
        let mut s = Search::new(40, 0.02);
        let start = 1_790_000_000.0;
        let deadline = start + 3.0;
        let v = fractional(0.0, 0.0);
        let mut now = start;
        while let Some(p) = s.next(now, deadline) {
            assert!(p.arrive_at <= deadline);
            let sent = now.max(p.send_at);
            s.answer(&Answer {
                plan: p,
                sent,
                received: sent + 0.001,
                accepted: v.accepts(&p, sent),
            });
            now = sent + 0.001;
            assert!(now <= deadline);
        }
    }

    #[test]
    fn failures_are_named() {
        let mut all = fractional(0.0, 0.0);
        all.leeway = 1e9; // accepts everything
        assert_eq!(
            run(all, 1e9, 0.001, 0.5, 40, 10.0).finish(),
            Err(Failure::DoesNotCheckTokens)
        );
        let none = fractional(0.0, -1e9); // rejects everything
        assert_eq!(
            run(none, 1e9, 0.001, 0.5, 40, 10.0).finish(),
            Err(Failure::RejectsEverything)
        );
        let no_nbf = Verifier {
            ignores_nbf: true,
            ..fractional(0.0, 0.0)
        };
        assert_eq!(
            run(no_nbf, 1e9, 0.001, 0.5, 40, 10.0).finish(),
            Err(Failure::OutOfRange(Edge::Nbf))
        );
    }

    #[test]
    fn contradictory_answers_are_reported() {
        let mut s = Search::new(40, 0.02);
        let p = s.next(100.0, 200.0).unwrap();
        s.answer(&Answer {
            plan: p,
            sent: 100.0,
            received: 100.001,
            accepted: true,
        });
        // Same claim, later, rejected: for exp a later arrival can only make rejection likelier,
        // so the opposite order contradicts.
        let mut q = p;
        q.claim = p.claim + 5.0;
        s.answer(&Answer {
            plan: q,
            sent: 99.0,
            received: 99.001,
            accepted: false,
        });
        assert!(matches!(s.finish(), Err(Failure::Inconsistent(_))));
    }

    #[test]
    fn nbf_tokens_stay_valid_on_the_exp_side() {
        // A verifier far ahead (Y very negative) still gets nbf tokens whose exp passes.
        let v = fractional(60.0, 0.0);
        let e = run(v, 1_790_000_000.2, 0.001, 0.5, 40, 10.0)
            .finish()
            .unwrap();
        assert!((e.offset - 60.0).abs() <= e.bound, "{e:?}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// For any offset, leeway, clock kind and round trip, the truth lies within the bound.
        #[test]
        fn truth_within_bound(
            theta in -50.0f64..50.0,
            leeway_whole in 0u32..40,
            leeway_frac in prop::sample::select(vec![0.0, 0.0, 0.25, 0.5, 0.7]),
            kind in 0usize..5,
            start_frac in 0.0f64..1.0,
            rtt in 0.0005f64..0.08,
            phase in 0.0f64..1.0,
            budget in 2.0f64..12.0,
        ) {
            let leeway = leeway_whole as f64 + leeway_frac;
            let base = fractional(theta, leeway);
            let v = match kind {
                0 => base,
                1 => Verifier { truncates: true, ..base },
                2 => Verifier { floors: true, ..base },
                3 => Verifier { floors: true, integer_only: true, lenient_exp: true, ..base },
                // Floored clock, truncated claims, the usual comparisons: exact for integer claims.
                _ => Verifier { floors: true, truncates: true, leeway: leeway_whole as f64, ..base },
            };
            let s = run(v, 1_790_000_000.0 + start_frac, rtt, phase, 40, budget);
            prop_assert!(s.requests() <= 40);
            match s.finish() {
                Ok(e) => {
                    let slack = 1e-6;
                    prop_assert!((e.offset - v.theta).abs() <= e.bound + slack, "offset {:?} {:?}", e, v);
                    prop_assert!((e.leeway - v.leeway).abs() <= e.bound + slack, "leeway {:?} {:?}", e, v);
                }
                // Only a too-short budget may leave an edge unfound; nothing else fails here.
                Err(Failure::NotFound(_)) => prop_assert!(budget < 4.0),
                Err(f) => prop_assert!(false, "{f} for {v:?}"),
            }
        }
    }
}
