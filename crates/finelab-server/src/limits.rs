//! What one client may hold of the server: connections are served by hyper directly (axum::serve
//! has no header timeout) with a header read timeout, a limit on open connections, and a request
//! body that fails when no data came for a while. Nothing here limits how long a response takes,
//! so job event streams stay open as long as their job runs.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use futures_util::StreamExt;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How long a client may take to send a request's headers (also how long an idle kept-alive
/// connection stays open).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a request body may go without sending data (an upload may take hours, as long as it
/// moves).
pub const DEFAULT_BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Open connections beyond this wait (in the system's listen queue) until one closes.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// The limits of [`serve`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) header_read_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) shutdown_grace: Duration,
}

/// Accepts connections until `shutdown` completes, at most `limits.max_connections` at a time,
/// then asks open ones to finish and gives them `limits.shutdown_grace` before closing them.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors, or a connection reset before it was accepted: wait a
                // moment instead of spinning, as axum::serve does.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        let (stream, peer) = stream;
        let _ = stream.set_nodelay(true);
        let service = tower_layer::Layer::layer(&axum::Extension(crate::guard::PeerAddr(peer)), router.clone());
        let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let mut stop = stop_rx.clone();
        connections.spawn(async move {
            let _permit = permit;
            tokio::pin!(connection);
            tokio::select! {
                _ = &mut connection => return,
                _ = stop.wait_for(|stopping| *stopping) => {}
            }
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        });
    }
    let _ = stop_tx.send(true);
    let _ =
        tokio::time::timeout(limits.shutdown_grace, async { while connections.join_next().await.is_some() {} }).await;
    // Connections still open (event streams of running jobs) are closed as `connections` drops.
    Ok(())
}

/// A request body that sent no data for the idle timeout.
#[derive(Debug, thiserror::Error)]
#[error("the request body sent no data for {} s", .0.as_secs_f64())]
pub(crate) struct BodyTimeout(Duration);

/// Middleware: the request's body fails with [`BodyTimeout`] when it stalls for `idle`.
pub(crate) async fn body_idle_timeout(State(idle): State<Duration>, request: Request, next: Next) -> Response {
    let request = request.map(|body| {
        let chunks = futures_util::stream::unfold(Some(body.into_data_stream()), move |stream| async move {
            let mut stream = stream?;
            match tokio::time::timeout(idle, stream.next()).await {
                Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(stream))),
                Ok(Some(Err(e))) => Some((Err(axum::BoxError::from(e)), None)),
                Ok(None) => None,
                Err(_) => Some((Err(axum::BoxError::from(BodyTimeout(idle))), None)),
            }
        });
        Body::from_stream(chunks)
    });
    next.run(request).await
}

/// Whether `error` or one of its causes is a [`BodyTimeout`].
pub(crate) fn is_body_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<BodyTimeout>() {
            return true;
        }
        cause = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A response that streams for longer than both timeouts (as a job's event stream does) is
    /// sent whole: the timeouts are about what the client sends, not how long an answer takes.
    #[test]
    fn long_responses_outlive_the_timeouts() {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let slow = || async {
            let ticks = futures_util::stream::unfold(0u32, |n| async move {
                if n == 6 {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(400)).await;
                Some((Ok::<_, std::convert::Infallible>(format!("tick {n}\n")), n + 1))
            });
            Body::from_stream(ticks)
        };
        let router = Router::new()
            .route("/slow", axum::routing::get(slow))
            .layer(axum::middleware::from_fn_with_state(Duration::from_millis(500), body_idle_timeout));
        let limits = Limits {
            header_read_timeout: Duration::from_millis(500),
            max_connections: 4,
            shutdown_grace: Duration::from_secs(1),
        };
        runtime.spawn(serve(listener, router, limits, std::future::pending()));

        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let started = std::time::Instant::now();
        write!(stream, "GET /slow HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(started.elapsed() >= Duration::from_millis(2400), "{:?}", started.elapsed());
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains("tick 0\n") && answer.contains("tick 5\n"), "{answer}");
    }
}
