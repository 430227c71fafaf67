//! The web UI: the files `npm run build` writes to `ui/dist`, embedded into release builds (debug
//! builds read them from disk, so a rebuilt UI shows without rebuilding the server), or read from
//! the folder `FINELAB_UI_DIR` names.

use crate::guard::{self, PageAccess};
use crate::{error_response, AppState};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use finelab_app::ErrorCode;
use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};

/// `ui/dist`; a build without it (the UI not built yet) serves a page that says so.
#[derive(rust_embed::Embed)]
#[folder = "../../ui/dist/"]
#[allow_missing = true]
struct Dist;

/// Where the UI's files come from.
pub(crate) enum UiSource {
    /// Built into the program (read from `ui/dist` at run time in debug builds).
    Embedded,
    /// A folder given at run time.
    Folder(PathBuf),
}

/// Shown when no UI was built into this program.
const NOT_BUILT: &str = "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Finelab</title></head>\n\
<body style=\"font-family: sans-serif; margin: 3em\">\n<h1>Finelab</h1>\n\
<p>UI not built: run <code>npm run build</code> in <code>ui/</code>, then rebuild <code>finelab</code> \
(or point <code>FINELAB_UI_DIR</code> at a built UI folder).</p>\n\
<p>The API is up: <code>POST /api</code>.</p>\n</body></html>\n";

impl UiSource {
    pub(crate) fn new(folder: Option<PathBuf>) -> UiSource {
        match folder {
            Some(folder) => UiSource::Folder(folder),
            None => UiSource::Embedded,
        }
    }

    /// The file at `path` (relative, `/`-separated) and its content type.
    fn get(&self, path: &str) -> Option<(Cow<'static, [u8]>, String)> {
        // Only plain names: a request cannot climb out of the folder.
        if !Path::new(path).components().all(|c| matches!(c, Component::Normal(_))) {
            return None;
        }
        match self {
            UiSource::Embedded => {
                let file = Dist::get(path)?;
                Some((file.data, file.metadata.mimetype().to_string()))
            }
            UiSource::Folder(folder) => {
                let full = folder.join(path);
                let data = std::fs::read(&full).ok()?;
                let mime = mime_guess::from_path(&full).first_or_octet_stream().to_string();
                Some((Cow::Owned(data), mime))
            }
        }
    }
}

/// Every request no other route took: a UI file, `index.html` for the UI's own routes, else 404.
/// The page (`index.html`) is served only with the token, in the address or its cookie; the files
/// it loads hold no data and are served to anyone.
pub(crate) async fn serve(State(state): State<AppState>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return error_response(ErrorCode::NoSuchRoute, format!("no route {method} {}", uri.path()));
    }
    let path = uri.path().trim_start_matches('/').to_string();
    let ui = state.ui.clone();
    let found = tokio::task::spawn_blocking(move || lookup(&ui, &path)).await.ok().flatten();
    match found {
        Some((data, mime, cache, is_page)) => {
            let access = is_page.then(|| guard::page_access(&state, &uri, &headers));
            if let Some(PageAccess::Refused) = access {
                let mut response = (StatusCode::UNAUTHORIZED, crate::signin::sign_in_page(None)).into_response();
                let headers = response.headers_mut();
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                return response;
            }
            let mut response = (StatusCode::OK, data.into_owned()).into_response();
            let headers = response.headers_mut();
            if let Some(PageAccess::TokenInUrl) = access {
                headers.insert(header::SET_COOKIE, guard::token_cookie(&state));
            }
            // Text files say their encoding, so Chinese text never depends on the browser's guess.
            let mime = if mime.starts_with("text/") && !mime.contains("charset") {
                format!("{mime}; charset=utf-8")
            } else {
                mime
            };
            if let Ok(mime) = HeaderValue::from_str(&mime) {
                headers.insert(header::CONTENT_TYPE, mime);
            }
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
            response
        }
        None => error_response(ErrorCode::NoSuchFile, format!("no file {}", uri.path())),
    }
}

/// A file's bytes, content type, `Cache-Control`, and whether it is the page (`index.html`).
type Found = (Cow<'static, [u8]>, String, &'static str, bool);

fn lookup(ui: &UiSource, path: &str) -> Option<Found> {
    // Vite names the files under assets/ by their content hash: they never change.
    let immutable = "public, max-age=31536000, immutable";
    let fresh = "no-cache";
    if !path.is_empty() && !path.ends_with('/') {
        if let Some((data, mime)) = ui.get(path) {
            let is_page = path == "index.html";
            return Some((data, mime, if path.starts_with("assets/") { immutable } else { fresh }, is_page));
        }
        // A name with an extension is a file that is not there; anything else is a route of the
        // UI itself (opened by a bookmark or a reload), which index.html handles.
        let last = path.rsplit('/').next().unwrap_or("");
        if last.contains('.') {
            return None;
        }
    }
    match ui.get("index.html") {
        Some((data, mime)) => Some((data, mime, fresh, true)),
        None => Some((Cow::Borrowed(NOT_BUILT.as_bytes()), "text/html; charset=utf-8".into(), fresh, true)),
    }
}
