//! The admin API described: an OpenAPI 3.1 document made from the handlers' `#[utoipa::path]`
//! attributes as [`super::routes`] registers them, with the bearer-token scheme and the two
//! answers every route may give before its handler runs (`401`, `429`). Served at
//! `GET /admin/openapi.json`, behind the same token as the rest of the API: it holds no secret,
//! but nothing under `/admin` is public.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Header, OpenApi as Spec, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::ErrorBody;

/// The error of a request without the right bearer token.
pub const UNAUTHORIZED: &str = "missing or wrong admin bearer token";

/// The name of the bearer-token security scheme.
const BEARER: &str = "bearer";

/// The answers every route may give before its handler runs, by status, with their names
/// under `components/responses`.
const REFUSALS: [(&str, &str); 2] = [("401", "Unauthorized"), ("429", "Throttled")];

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Soda webhook gateway admin API",
        description = "Operators' API: the audit trail, retries and replays, what is loaded and configured, and metrics. Every route needs `Authorization: Bearer <admin.token>`."
    ),
    components(schemas(ErrorBody)),
    modifiers(&Refusals),
    tags(
        (name = "audit", description = "Stored events and actions, with what became of them"),
        (name = "retries", description = "Sending actions and events again"),
        (name = "status", description = "Plugins, tenants and metrics as they are now"),
        (name = "openapi", description = "This document"),
    )
)]
struct AdminApi;

/// Declares the bearer scheme, required by every operation, and the refusals' responses.
struct Refusals;

impl Modify for Refusals {
    fn modify(&self, openapi: &mut Spec) {
        openapi.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        let unauthorized = ResponseBuilder::new()
            .description("The bearer token is missing or wrong (`admin.token`)")
            .content(
                "application/json",
                Content::new(Some(Ref::from_schema_name("ErrorBody"))),
            );
        let retry_after = Header::new(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1)),
        );
        let throttled = ResponseBuilder::new()
            .description(
                "Too many wrong tokens from this address: try again after `Retry-After` seconds",
            )
            .header("Retry-After", retry_after)
            .content(
                "text/plain",
                Content::new(Some(ObjectBuilder::new().schema_type(Type::String))),
            );
        // In the order of `REFUSALS`.
        for ((_, name), response) in REFUSALS.into_iter().zip([unauthorized, throttled]) {
            components
                .responses
                .insert(name.to_owned(), RefOr::T(response.build()));
        }
    }
}

/// The document's root: info, the bearer scheme required everywhere, the refusals; no paths.
pub(super) fn base() -> Spec {
    AdminApi::openapi()
}

/// Adds the refusals to every operation of `openapi`, once its paths are in.
pub(super) fn refuse_everywhere(openapi: &mut Spec) {
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            refuse(operation);
        }
    }
}

fn refuse(operation: &mut Operation) {
    for (status, name) in REFUSALS {
        let response = RefOr::Ref(Ref::from_response_name(name));
        operation
            .responses
            .responses
            .insert(status.to_owned(), response);
    }
}

/// The document as served, serialized once.
#[derive(Clone)]
pub struct Document(Bytes);

impl Document {
    /// Serializes `openapi`.
    pub fn of(openapi: &Spec) -> Document {
        let json = serde_json::to_vec(openapi).expect("an OpenAPI document serializes");
        Document(Bytes::from(json))
    }
}

/// This API as an OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/admin/openapi.json",
    tag = "openapi",
    responses((status = OK, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)),
)]
pub(super) async fn document(State(document): State<Document>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], document.0).into_response()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::{json, Value};

    use super::super::routes;

    /// `METHOD /path` of each route the admin module's doc lists
    /// (``//! - `GET  /admin/events?tenant=...`: ...``).
    fn listed_in_module_doc() -> BTreeSet<String> {
        include_str!("mod.rs")
            .lines()
            .filter_map(|line| line.strip_prefix("//! - `"))
            .filter_map(|item| item.split('`').next())
            .map(|route| {
                let (method, target) = route.split_once(' ').expect("`METHOD /path`");
                let path = target.trim().split('?').next().unwrap_or_default();
                format!("{method} {path}")
            })
            .collect()
    }

    fn document() -> Value {
        serde_json::to_value(routes().into_openapi()).unwrap()
    }

    #[test]
    fn the_document_lists_exactly_the_routes_of_the_module_doc() {
        let document = document();
        let mut documented = BTreeSet::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
        assert_eq!(documented, listed_in_module_doc());
        assert_eq!(documented.len(), 11, "{documented:?}");
    }

    #[test]
    fn every_operation_needs_the_bearer_token_in_openapi_3_1() {
        let document = document();
        assert_eq!(document["openapi"], "3.1.0");
        assert_eq!(document["security"], json!([{ "bearer": [] }]));
        assert_eq!(
            document["components"]["securitySchemes"]["bearer"],
            json!({ "type": "http", "scheme": "bearer" })
        );
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                assert_eq!(
                    operation["responses"]["401"],
                    json!({ "$ref": "#/components/responses/Unauthorized" }),
                    "{method} {path}"
                );
                assert_eq!(
                    operation["responses"]["429"],
                    json!({ "$ref": "#/components/responses/Throttled" }),
                    "{method} {path}"
                );
            }
        }
    }
}
