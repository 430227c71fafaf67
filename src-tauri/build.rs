fn main() {
    // Restrict the generated permission set to the commands this shell defines, so the
    // capability file can name them (`allow-api`, `allow-watch-job`) and nothing else exists.
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(&["api", "watch_job"])),
    )
    .expect("tauri-build failed");
}
