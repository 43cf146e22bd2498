//! [`authenticate`](super::authenticate)'s judgement as a typed middleware, so that the request
//! path pays no boxed future per layer: a credential the caches know is judged in `call`.

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::Error;
use futures_util::future::LocalBoxFuture;
use pin_project_lite::pin_project;

use super::{judge, judge_now, Accepts};

/// Authentication as a typed middleware: `scope.wrap(Authenticate::new(accepts))`. A credential the
/// caches know (a warm session token, a remembered key) is judged in `call` and the request handed on
/// at once; only one that must be verified or looked up (a signature, a key fetched, a query) takes a
/// boxed future. [`authenticate`](super::authenticate) is the same judgement for
/// `middleware::from_fn`.
#[derive(Debug, Clone, Copy)]
pub struct Authenticate {
    accepts: Accepts,
    only_routed: bool,
}

impl Authenticate {
    pub fn new(accepts: Accepts) -> Self {
        Self {
            accepts,
            only_routed: false,
        }
    }

    /// Authenticates only a request whose path a route matches (`routed`); any other passes
    /// through unauthenticated, to whatever answers it (the JSON 404).
    pub fn only_routed(self) -> Self {
        Self {
            only_routed: true,
            ..self
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Authenticate
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = AuthenticateService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(AuthenticateService {
            service: Rc::new(service),
            config: *self,
        }))
    }
}

pub struct AuthenticateService<S> {
    // Shared with the boxed future of a credential that must be verified before the call.
    service: Rc<S>,
    config: Authenticate,
}

impl<S, B> Service<ServiceRequest> for AuthenticateService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = AuthenticateFuture<S::Future, B>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let Authenticate {
            accepts,
            only_routed,
        } = self.config;
        if only_routed && !routed(&req) {
            return AuthenticateFuture::Admitted {
                response: self.service.call(req),
            };
        }
        match judge_now(accepts, &req) {
            Some(Ok(())) => AuthenticateFuture::Admitted {
                response: self.service.call(req),
            },
            Some(Err(error)) => AuthenticateFuture::Refused {
                refusal: ready(Err(error)),
            },
            None => {
                let service = Rc::clone(&self.service);
                AuthenticateFuture::Verifying {
                    judged: Box::pin(async move {
                        judge(accepts, &req).await?;
                        service.call(req).await
                    }),
                }
            }
        }
    }
}

pin_project! {
    /// The response of a request [`AuthenticateService`] handed on, its refusal, or (a credential
    /// to verify first) both in one boxed future.
    #[project = AuthenticateProjection]
    pub enum AuthenticateFuture<F, B> {
        Admitted { #[pin] response: F },
        Refused { refusal: Ready<Result<ServiceResponse<B>, Error>> },
        Verifying { judged: LocalBoxFuture<'static, Result<ServiceResponse<B>, Error>> },
    }
}

impl<F, B> Future for AuthenticateFuture<F, B>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
{
    type Output = Result<ServiceResponse<B>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            AuthenticateProjection::Admitted { response } => response.poll(cx),
            AuthenticateProjection::Refused { refusal } => Pin::new(refusal).poll(cx),
            AuthenticateProjection::Verifying { judged } => judged.as_mut().poll(cx),
        }
    }
}

/// Whether a route matches the request's path. The team's authenticated routes share one scope with
/// an empty prefix, which every path not routed before reaches: a path that no route matches passes
/// through unauthenticated, to the JSON 404, as it would without the team's routes. The path is
/// checked both as sent and as the router matches it (percent-decoded unreserved characters), and
/// either match means authenticate: a spelling that reaches a handler cannot skip this.
fn routed(req: &ServiceRequest) -> bool {
    let map = req.request().resource_map();
    map.has_resource(req.path()) || map.has_resource(req.match_info().as_str())
}
