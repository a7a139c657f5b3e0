//! Signed forced-variant overrides, so testers can reach a variant without opening that door to
//! every client.
//!
//! Value format: `v1.<service>.<variant>.<expires-unix-seconds>.<hex HMAC-SHA256>`, the MAC taken
//! over `veer-override-v1|<service>|<variant>|<expires>`. Names cannot contain dots, so the format
//! is unambiguous; the service is signed so a token for one service cannot steer another; the
//! expiry bounds how long a leaked token is worth anything.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why an override header was ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OverrideRejection {
    /// Not `v1.<service>.<variant>.<expires>.<sig>`.
    #[error("malformed override value")]
    Malformed,
    /// Signed for another service.
    #[error("override is for another service")]
    WrongService,
    /// Past its expiry.
    #[error("override has expired")]
    Expired,
    /// No key verifies the signature.
    #[error("override signature does not verify")]
    BadSignature,
    /// Names a variant the service does not have.
    #[error("override names an unknown variant")]
    UnknownVariant,
    /// Expires further ahead than the config's `override.max_ttl_seconds` allows: a value
    /// signed for years would outlive any key rotation plan.
    #[error("override expires later than override.max_ttl_seconds allows")]
    TooLong,
}

/// A verified override: the variant it forces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified<'v> {
    /// The forced variant's name.
    pub variant: &'v str,
    /// When it stops being accepted (unix seconds).
    pub expires: u64,
}

fn message(service: &str, variant: &str, expires: u64) -> String {
    format!("veer-override-v1|{service}|{variant}|{expires}")
}

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so this never falls back; the fallback (an all-zero key that
    // verifies nothing signed with a configured key) only avoids a panic path.
    HmacSha256::new_from_slice(key)
        .unwrap_or_else(|_| <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default()))
}

/// Signs an override (veerctl and tests use this; the filter only verifies).
pub fn sign(key: &[u8], service: &str, variant: &str, expires: u64) -> String {
    let mut m = mac(key);
    m.update(message(service, variant, expires).as_bytes());
    let sig = hex::encode(m.finalize().into_bytes());
    format!("v1.{service}.{variant}.{expires}.{sig}")
}

/// Verifies `value` for `service` at time `now` (unix seconds) with any of `keys`; it must expire
/// within `max_ttl` seconds of `now`.
pub fn verify<'v>(
    value: &'v [u8],
    service: &str,
    now: u64,
    max_ttl: u64,
    keys: &[Vec<u8>],
) -> Result<Verified<'v>, OverrideRejection> {
    let text = std::str::from_utf8(value).map_err(|_| OverrideRejection::Malformed)?;
    let mut parts = text.split('.');
    let (Some("v1"), Some(svc), Some(variant), Some(expires), Some(sig), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(OverrideRejection::Malformed);
    };
    let expires: u64 = expires.parse().map_err(|_| OverrideRejection::Malformed)?;
    let sig = hex::decode(sig).map_err(|_| OverrideRejection::Malformed)?;
    if svc != service {
        return Err(OverrideRejection::WrongService);
    }
    let msg = message(svc, variant, expires);
    let verified = keys.iter().any(|k| {
        let mut m = mac(k);
        m.update(msg.as_bytes());
        m.verify_slice(&sig).is_ok()
    });
    if !verified {
        return Err(OverrideRejection::BadSignature);
    }
    if now >= expires {
        return Err(OverrideRejection::Expired);
    }
    if expires > now.saturating_add(max_ttl) {
        return Err(OverrideRejection::TooLong);
    }
    Ok(Verified { variant, expires })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef-test";
    const TTL: u64 = 7 * 24 * 3600;

    #[test]
    fn a_signed_value_verifies_until_it_expires() {
        let v = sign(KEY, "web", "canary", 2_000);
        assert_eq!(
            verify(v.as_bytes(), "web", 1_999, TTL, &[KEY.to_vec()]),
            Ok(Verified {
                variant: "canary",
                expires: 2_000
            })
        );
        assert_eq!(
            verify(v.as_bytes(), "web", 2_000, TTL, &[KEY.to_vec()]),
            Err(OverrideRejection::Expired)
        );
    }

    #[test]
    fn tampering_wrong_keys_and_other_services_are_refused() {
        let v = sign(KEY, "web", "canary", 2_000);
        let tampered = v.replace("canary", "stable");
        assert_eq!(
            verify(tampered.as_bytes(), "web", 1, TTL, &[KEY.to_vec()]),
            Err(OverrideRejection::BadSignature)
        );
        assert_eq!(
            verify(
                v.as_bytes(),
                "web",
                1,
                TTL,
                &[b"another-key-0123456".to_vec()]
            ),
            Err(OverrideRejection::BadSignature)
        );
        assert_eq!(
            verify(v.as_bytes(), "api", 1, TTL, &[KEY.to_vec()]),
            Err(OverrideRejection::WrongService)
        );
        for junk in [
            &b""[..],
            b"canary",
            b"v1.web.canary.5.zz",
            b"v1.web.canary.x.00",
            b"\xff\xfe",
            b"v1.web.canary.5.00.extra",
        ] {
            assert_eq!(
                verify(junk, "web", 1, TTL, &[KEY.to_vec()]),
                Err(OverrideRejection::Malformed),
                "{junk:?}"
            );
        }
    }

    #[test]
    fn an_expiry_beyond_the_max_ttl_is_refused() {
        let v = sign(KEY, "web", "canary", 1_000 + TTL);
        assert!(verify(v.as_bytes(), "web", 1_000, TTL, &[KEY.to_vec()]).is_ok());
        assert_eq!(
            verify(v.as_bytes(), "web", 999, TTL, &[KEY.to_vec()]),
            Err(OverrideRejection::TooLong)
        );
        let far = sign(KEY, "web", "canary", u64::MAX);
        assert_eq!(
            verify(far.as_bytes(), "web", 1, TTL, &[KEY.to_vec()]),
            Err(OverrideRejection::TooLong)
        );
    }

    #[test]
    fn any_configured_key_verifies_so_keys_can_rotate() {
        let v = sign(KEY, "web", "canary", 2_000);
        let keys = [b"new-key-0123456789".to_vec(), KEY.to_vec()];
        assert!(verify(v.as_bytes(), "web", 1, TTL, &keys).is_ok());
    }
}
