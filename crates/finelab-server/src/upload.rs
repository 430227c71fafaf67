//! `POST /api/upload?name=FILE`: a browser cannot hand the server a path, so it sends the file's
//! bytes; they are streamed to `<project>/uploads/<name>` and the path comes back for
//! `preview_import` and `start_import`.

use crate::limits::is_body_timeout;
use crate::{error_response, AppState};
use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use finelab_app::ErrorCode;
use futures_util::StreamExt;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// The longest file name kept, in bytes (names longer than this are cut, keeping the extension).
const MAX_NAME_BYTES: usize = 200;

#[derive(Deserialize)]
pub(crate) struct UploadQuery {
    name: Option<String>,
}

pub(crate) async fn upload(
    State(state): State<AppState>,
    axum::Extension(identity): axum::Extension<crate::sessions::Identity>,
    query: Result<Query<UploadQuery>, axum::extract::rejection::QueryRejection>,
    body: Body,
) -> Response {
    // Uploads are for importing, which admins do.
    if let crate::sessions::Identity::User { name, role, .. } = &identity {
        if *role < finelab_store::Role::Admin {
            return error_response(
                ErrorCode::WrongRole,
                format!("{name} is not an admin: only admins upload files to import"),
            );
        }
    }
    let raw_name = match query {
        Ok(Query(UploadQuery { name: Some(name) })) => name,
        Ok(_) => return error_response(ErrorCode::BadRequest, "add the file's name: /api/upload?name=<file name>"),
        Err(rejection) => return error_response(ErrorCode::BadRequest, rejection.body_text()),
    };
    let Some(name) = sanitize_file_name(&raw_name) else {
        return error_response(ErrorCode::BadRequest, format!("{raw_name:?} is not a file name"));
    };
    match save(&state.uploads_dir, &name, body, state.max_upload_bytes).await {
        Ok((path, bytes)) => Json(serde_json::json!({
            "path": path.display().to_string(),
            "name": path.file_name().map(|n| n.to_string_lossy().into_owned()),
            "bytes": bytes,
        }))
        .into_response(),
        Err(SaveError::TooLarge) => error_response(
            ErrorCode::TooLarge,
            format!("the file is larger than {} bytes, the most this server accepts", state.max_upload_bytes),
        ),
        Err(SaveError::Interrupted(e)) if is_body_timeout(&e) => {
            error_response(ErrorCode::Timeout, format!("the upload stopped: {e}"))
        }
        Err(SaveError::Interrupted(e)) => {
            error_response(ErrorCode::BadRequest, format!("the upload was interrupted: {e}"))
        }
        Err(SaveError::Io(path, e)) => error_response(ErrorCode::Io, format!("{}: {e}", path.display())),
    }
}

enum SaveError {
    TooLarge,
    Interrupted(axum::Error),
    Io(PathBuf, std::io::Error),
}

/// Streams `body` into a hidden part file, then renames it to a free name built from `name`, so
/// an interrupted upload never leaves a file that looks complete.
async fn save(dir: &Path, name: &str, body: Body, max_bytes: u64) -> Result<(PathBuf, u64), SaveError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e| SaveError::Io(path, e)
    };
    tokio::fs::create_dir_all(dir).await.map_err(io(dir))?;
    let part = dir.join(format!(".{name}.{}.part", part_suffix()));
    let result = async {
        let mut file = tokio::fs::File::create(&part).await.map_err(io(&part))?;
        let mut stream = body.into_data_stream();
        let mut n_bytes = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(SaveError::Interrupted)?;
            n_bytes += chunk.len() as u64;
            if n_bytes > max_bytes {
                return Err(SaveError::TooLarge);
            }
            file.write_all(&chunk).await.map_err(io(&part))?;
        }
        file.flush().await.map_err(io(&part))?;
        drop(file);
        let dir = dir.to_path_buf();
        let name = name.to_string();
        let part_path = part.clone();
        let path = tokio::task::spawn_blocking(move || claim_free_name(&dir, &name, &part_path))
            .await
            .map_err(|e| SaveError::Io(part.clone(), std::io::Error::other(e)))?
            .map_err(io(&part))?;
        Ok((path, n_bytes))
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&part).await;
    }
    result
}

/// Moves `part` to `dir/name`, or `dir/stem (2).ext`, `(3)`... when that name is taken: an upload
/// never replaces a file an earlier import read from.
fn claim_free_name(dir: &Path, name: &str, part: &Path) -> std::io::Result<PathBuf> {
    let (stem, ext) = split_extension(name);
    for n in 1u32.. {
        let candidate = if n == 1 { dir.join(name) } else { dir.join(format!("{stem} ({n}){ext}")) };
        // Creating the name first reserves it against a concurrent upload of the same name.
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&candidate) {
            Ok(_) => {
                std::fs::rename(part, &candidate)?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    unreachable!("some name is free")
}

fn part_suffix() -> String {
    let mut bytes = [0u8; 6];
    if getrandom::fill(&mut bytes).is_err() {
        return format!("{}", std::process::id());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `("data", ".csv")` for `data.csv`; the extension is kept when a name is cut or numbered, since
/// the importer reads the format from it.
fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) if i > 0 && name.len() - i <= 16 => (&name[..i], &name[i..]),
        _ => (name, ""),
    }
}

/// A client's file name made safe to use in the uploads folder: the last path component only, no
/// control or reserved characters, no leading dots (no `..`, no hidden files), at most 200 bytes
/// with the extension kept. `None` when nothing is left.
pub fn sanitize_file_name(raw: &str) -> Option<String> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let replaced: String = last
        .chars()
        .map(|c| if c.is_control() || matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|') { '_' } else { c })
        .collect();
    let trimmed = replaced.trim().trim_start_matches('.').trim_end_matches(['.', ' ']).trim_start();
    if trimmed.is_empty() {
        return None;
    }
    if trimmed.len() <= MAX_NAME_BYTES {
        return Some(trimmed.to_string());
    }
    let (stem, ext) = split_extension(trimmed);
    let mut cut = MAX_NAME_BYTES - ext.len();
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    Some(format!("{}{ext}", &stem[..cut]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        let check =
            |raw: &str, expected: Option<&str>| assert_eq!(sanitize_file_name(raw).as_deref(), expected, "{raw:?}");
        check("data.csv", Some("data.csv"));
        check("评论 数据.csv", Some("评论 数据.csv"));
        check("../../etc/passwd", Some("passwd"));
        check("..\\..\\windows\\win.ini", Some("win.ini"));
        check("/abs/path/x.jsonl", Some("x.jsonl"));
        check("..", None);
        check(".", None);
        check("", None);
        check("dir/", None);
        check(".hidden", Some("hidden"));
        check("...csv", Some("csv"));
        check("a..b.csv", Some("a..b.csv"));
        check("con:tab?.tsv", Some("con_tab_.tsv"));
        check("line\nbreak.csv", Some("line_break.csv"));
        check("  spaced.csv  ", Some("spaced.csv"));
        check("trailing.csv...", Some("trailing.csv"));
        let long = format!("{}.xlsx", "中".repeat(100));
        let cut = sanitize_file_name(&long).unwrap();
        assert!(cut.len() <= MAX_NAME_BYTES, "{}", cut.len());
        assert!(cut.ends_with(".xlsx"));
        assert!(cut.starts_with("中中"));
    }

    #[test]
    fn free_names() {
        let dir = tempfile::tempdir().unwrap();
        let put = |content: &str| {
            let part = dir.path().join(".part");
            std::fs::write(&part, content).unwrap();
            claim_free_name(dir.path(), "r.csv", &part).unwrap()
        };
        assert_eq!(put("1"), dir.path().join("r.csv"));
        assert_eq!(put("2"), dir.path().join("r (2).csv"));
        assert_eq!(put("3"), dir.path().join("r (3).csv"));
        assert_eq!(std::fs::read_to_string(dir.path().join("r.csv")).unwrap(), "1");
        assert_eq!(std::fs::read_to_string(dir.path().join("r (2).csv")).unwrap(), "2");
    }
}
