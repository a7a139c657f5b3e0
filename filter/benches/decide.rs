//! The engine's decision time, natively, for the configs `make bench` runs in Envoy
//! (`bench/configs/*.json`): what reading the serialised headers and `decide` cost before the
//! wasm runtime and the hostcalls.
//!
//! `bench/run` reads criterion's estimates (`target/criterion/decide/<name>/new/estimates.json`)
//! into `bench/RESULTS.md`. Run alone with `cargo bench -p veer-filter --bench decide`.

// Tests may panic: the no-panic rule (filter/Cargo.toml) is for the code Envoy runs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::hint::black_box;
    use std::time::Duration;

    use criterion::measurement::WallTime;
    use criterion::{BatchSize, BenchmarkGroup, Criterion};
    use veer_filter::{decide, header_map, signing, Config, Inputs, RequestView};

    const REALISTIC: &str = include_str!("../../bench/configs/realistic.json");
    const MINIMAL: &str = include_str!("../../bench/configs/minimal.json");
    const PASSTHROUGH: &str = include_str!("../../bench/configs/passthrough.json");

    /// Distinct users, cycled: the same request shape `bench/wrk.lua` sends to Envoy.
    const USERS: usize = 4096;

    type Headers = Vec<(String, Vec<u8>)>;

    fn config(text: &str, name: &str) -> Config {
        Config::from_json(text).unwrap_or_else(|p| panic!("bench/configs/{name}.json: {p}"))
    }

    /// The headers Envoy hands the filter for one of wrk's requests (HTTP/1.1, lowercase names,
    /// pseudo-headers first, then what the Lua script sends, then what Envoy adds).
    fn request(user: usize, extra: &[(&str, &str)]) -> Headers {
        let mut h: Vec<(String, Vec<u8>)> = [
            (":authority", "web.example.com".to_owned()),
            (":path", "/".to_owned()),
            (":method", "GET".to_owned()),
            (":scheme", "http".to_owned()),
            (
                "user-agent",
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0".to_owned(),
            ),
            (
                "accept",
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8".to_owned(),
            ),
            ("accept-language", "en-US,en;q=0.5".to_owned()),
            (
                "cookie",
                format!("session=0123456789abcdef0123456789abcdef; uid=u-1-{user}; theme=dark"),
            ),
            ("x-forwarded-proto", "http".to_owned()),
            (
                "x-request-id",
                "0f6e2d6c-7c1a-4f5e-9a8b-3c2d1e0f9a8b".to_owned(),
            ),
        ]
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v.into_bytes()))
        .collect();
        h.extend(
            extra
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec())),
        );
        h
    }

    /// One decision per iteration, over `USERS` distinct users in turn.
    fn bench_decide(
        g: &mut BenchmarkGroup<'_, WallTime>,
        name: &str,
        config: &Config,
        requests: &[Headers],
    ) {
        // Serialised as Envoy hands them to the filter; each iteration reads them in place, as
        // the filter does.
        let maps: Vec<Vec<u8>> = requests.iter().map(|h| header_map::serialise(h)).collect();
        let mut i = 0usize;
        g.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % maps.len();
                let map = black_box(&maps[i]);
                let req = RequestView::from_pairs(header_map::parse(map));
                let d = decide(
                    black_box(config),
                    &req,
                    Inputs {
                        now_unix: 1_780_000_000,
                        random: &mut || 42,
                    },
                );
                black_box(d.map(|d| d.variant_index))
            })
        });
    }

    pub fn main() {
        let mut c = Criterion::default()
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
            .configure_from_args();

        let realistic = config(REALISTIC, "realistic");
        let minimal = config(MINIMAL, "minimal");
        let passthrough = config(PASSTHROUGH, "passthrough");
        // The mix bench/wrk.lua sends: one request in 20 matches a cohort rule (x-beta), one in
        // 25 is in the segmented experiment's segment (x-country: de), the rest carry no hint.
        let users: Vec<Headers> = (0..USERS)
            .map(|u| match u {
                u if u % 20 == 0 => request(u, &[("x-beta", "1")]),
                u if u % 25 == 0 => request(u, &[("x-country", "de")]),
                u => request(u, &[]),
            })
            .collect();
        let plain: Vec<Headers> = (0..USERS).map(|u| request(u, &[])).collect();

        let mut g = c.benchmark_group("decide");
        // What the Envoy benchmark sends: the main service, rules and experiments evaluated;
        // most requests fall through them to the default split.
        bench_decide(&mut g, "realistic", &realistic, &users);
        // A request caught by the first rule (cookie `staff=1`): the cheapest path in that config.
        let staff: Vec<Headers> = (0..USERS)
            .map(|u| {
                let mut h = request(u, &[]);
                if let Some((_, v)) = h.iter_mut().find(|(n, _)| n == "cookie") {
                    v.extend_from_slice(b"; staff=1");
                }
                h
            })
            .collect();
        bench_decide(&mut g, "realistic_first_rule", &realistic, &staff);
        // A tester's signed override (HMAC-SHA256 verified on every request that carries one).
        let token = signing::sign(
            b"bench-override-key-0123456789abcdef",
            "web",
            "v2",
            4_000_000_000,
        );
        let overridden: Vec<Headers> = (0..USERS)
            .map(|u| request(u, &[("x-veer-override", token.as_str())]))
            .collect();
        bench_decide(&mut g, "realistic_signed_override", &realistic, &overridden);
        // One service, no rules, no experiments: the split alone.
        bench_decide(&mut g, "minimal", &minimal, &plain);
        // No service matches the host: the request passes through.
        bench_decide(&mut g, "passthrough", &passthrough, &plain);

        g.finish();

        // What a config update costs the filter (parse + validate), per VM.
        let mut g = c.benchmark_group("config");
        g.bench_function("from_json_realistic", |b| {
            b.iter_batched(
                || REALISTIC,
                |text| black_box(Config::from_json(text).map(|c| c.services.len())),
                BatchSize::SmallInput,
            )
        });
        g.finish();

        c.final_summary();
    }
}

fn main() {
    #[cfg(not(target_arch = "wasm32"))]
    native::main();
}
