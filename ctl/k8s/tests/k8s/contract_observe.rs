//! Exact request of the port-forward to a sidecar's admin port.

use veer_k8s::port_forward::{admin_get, ENVOY_ADMIN_PORT, VERSION_PATH};
use veer_k8s::Error;

use crate::support::*;

#[tokio::test]
async fn port_forward_asks_for_the_admin_port_and_reports_a_refusal_clearly() {
    let refused = serde_json::json!({ "kind": "Status", "apiVersion": "v1", "status": "Failure",
        "message": "pods \"client-1\" is forbidden", "reason": "Forbidden", "code": 403 });
    let (client, server) = scripted(vec![Answer(403, refused)]);
    let err = admin_get(
        &target(client, "demo"),
        "client-1",
        ENVOY_ADMIN_PORT,
        &VERSION_PATH,
    )
    .await
    .expect_err("refused");
    let seen = server.await.expect("server");
    assert_eq!(seen[0].method, "GET");
    assert_eq!(
        seen[0].path,
        "/api/v1/namespaces/demo/pods/client-1/portforward"
    );
    assert_eq!(
        seen[0].query,
        vec![("ports".to_owned(), "15000".to_owned())]
    );
    assert!(
        matches!(err, Error::PortForward { port: 15000, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("pods/portforward"), "{err}");
}
