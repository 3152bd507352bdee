use bytes::Bytes;

use super::*;

fn upstream(status: u16, body: &'static str) -> GatewayError {
    GatewayError::Upstream(UpstreamError {
        deployment: "d1".into(),
        status: StatusCode::from_u16(status).unwrap(),
        body: Bytes::from_static(body.as_bytes()),
        retry_after: None,
    })
}

#[test]
fn upstream_openai_error_passes_through_verbatim() {
    let body = r#"{"error":{"message":"bad temp","type":"invalid_request_error","param":"temperature","code":null}}"#;
    let e = upstream(400, body);
    assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    assert_eq!(&e.to_json()[..], body.as_bytes());
}

#[test]
fn upstream_auth_failure_is_502_and_hides_upstream_body() {
    let e = upstream(
        401,
        r#"{"error":{"message":"Incorrect API key provided: sk-abc"}}"#,
    );
    assert_eq!(e.status(), StatusCode::BAD_GATEWAY);
    let json = String::from_utf8(e.to_json().to_vec()).unwrap();
    assert!(json.contains("upstream_auth_failed"), "{json}");
    assert!(!json.contains("sk-abc"), "{json}");
}

#[test]
fn non_json_upstream_error_is_wrapped() {
    let e = upstream(503, "<html>Service Unavailable</html>");
    let v: serde_json::Value = serde_json::from_slice(&e.to_json()).unwrap();
    assert_eq!(v["error"]["type"], "api_error");
    assert_eq!(v["error"]["code"], "upstream_error");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Service Unavailable")
    );
}

#[test]
fn statuses_and_types() {
    let cases: Vec<(GatewayError, u16, &str)> = vec![
        (
            GatewayError::invalid("x", None),
            400,
            "invalid_request_error",
        ),
        (
            GatewayError::RequestTooLarge { limit_bytes: 1 },
            413,
            "invalid_request_error",
        ),
        (
            GatewayError::RouteNotFound {
                method: "GET".into(),
                path: "/x".into(),
            },
            404,
            "not_found_error",
        ),
        (upstream(429, "{}"), 429, "rate_limit_error"),
        (
            GatewayError::UpstreamTimeout {
                deployment: "d".into(),
                after: Duration::from_secs(1),
            },
            504,
            "api_error",
        ),
        (
            GatewayError::NoHealthyDeployment {
                model: "m".into(),
                retry_after: None,
            },
            503,
            "api_error",
        ),
    ];
    for (e, status, ty) in cases {
        assert_eq!(e.status().as_u16(), status, "{e}");
        let v: serde_json::Value = serde_json::from_slice(&e.to_json()).unwrap();
        assert_eq!(v["error"]["type"], ty, "{e}");
        assert!(v["error"]["code"].is_string());
    }
}
