//! Discovery through the registry directory and the `file_sd` output, against real servers: hosts
//! join by writing an entry, leave by removing it or by letting it expire, and the `file_sd` file
//! always names exactly the live backends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use dcc_mcp_client::{ClientConfig, McpClient};
use dcc_mcp_gateway::discovery::{entry_path, write_entry};
use dcc_mcp_gateway::{GatewayConfig, Heartbeat, RegistryEntry};
use serde_json::{json, Value};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dcc-mcp-gw-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn file_sd(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn tool_names(gw: &RunningGateway) -> Vec<String> {
    runtime().block_on(async {
        let client = McpClient::connect(ClientConfig::new(gw.url()))
            .await
            .unwrap();
        let tools = client.list_all_tools().await.unwrap();
        client.close().await.unwrap();
        tools
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .filter(|n| n.contains("__") && !n.contains("__jobs."))
            .collect()
    })
}

#[test]
fn hosts_join_and_leave_through_the_directory_and_file_sd_follows() {
    let dir = scratch("registry");
    let sd = dir.join("sd").join("targets.json");
    std::fs::create_dir_all(sd.parent().unwrap()).unwrap();
    let maya = backend(&["echo"], 0);
    let blender = backend(&["add"], 0);
    let gw = gateway(
        GatewayConfig {
            registry_dir: Some(dir.clone()),
            registry_ttl: Duration::from_millis(1500),
            registry_poll: Duration::from_millis(50),
            file_sd_out: Some(sd.clone()),
            ..GatewayConfig::default()
        },
        0,
    );
    assert_eq!(file_sd(&sd), json!([]));

    // Two hosts join; a stale entry and a broken one are ignored.
    let maya_beat = Heartbeat::start(
        &dir,
        RegistryEntry::new("maya-01", Some("maya"), &maya.url(), Some("2025.1")),
        Duration::from_millis(200),
    )
    .unwrap();
    let blender_entry = RegistryEntry::new("blender-01", Some("blender"), &blender.url(), None);
    write_entry(&dir, &blender_entry).unwrap();
    let stale = RegistryEntry {
        heartbeat: 1.0,
        ..RegistryEntry::new(
            "houdini-01",
            Some("houdini"),
            "http://127.0.0.1:9/mcp",
            None,
        )
    };
    std::fs::write(
        entry_path(&dir, "houdini-01"),
        serde_json::to_vec(&stale).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("junk.json"), b"{").unwrap();
    wait_for("both hosts up", || {
        tool_names(&gw) == ["blender-01__add", "maya-01__echo"]
    });
    let maya_instance = gw.instance("maya-01");
    assert_eq!(maya_instance["source"], "registry");
    assert_eq!(maya_instance["dcc_type"], "maya");
    assert_eq!(maya_instance["version"], "2025.1");
    assert_eq!(maya_instance["pid"], std::process::id());
    assert_eq!(gw.instance("houdini-01"), Value::Null);
    let target = |r: &Running| format!("127.0.0.1:{}", r.port());
    // The file follows each change just after the tools are registered.
    let expected = json!([
        {"targets": [target(&blender)],
         "labels": {"backend": "blender-01", "dcc": "blender", "__metrics_path__": "/metrics"}},
        {"targets": [target(&maya)],
         "labels": {"backend": "maya-01", "dcc": "maya", "__metrics_path__": "/metrics"}},
    ]);
    wait_for("the file_sd file to name both hosts", || {
        file_sd(&sd) == expected
    });
    let result = runtime().block_on(async {
        let client = McpClient::connect(ClientConfig::new(gw.url()))
            .await
            .unwrap();
        client
            .call_tool("maya-01__echo", json!({"text": "joined"}))
            .await
            .unwrap()
    });
    assert_eq!(result.text(), Some("joined"));

    // blender-01 stops refreshing its entry: it expires and leaves; maya-01 leaves cleanly.
    wait_for("blender-01 to expire", || {
        tool_names(&gw) == ["maya-01__echo"]
    });
    assert_eq!(gw.instance("blender-01"), Value::Null);
    drop(maya_beat);
    assert!(!entry_path(&dir, "maya-01").exists());
    wait_for("maya-01 to leave", || tool_names(&gw).is_empty());
    wait_for("an empty file_sd file", || file_sd(&sd) == json!([]));
    let g = gw.metrics();
    assert_eq!(
        sample(&g, "dcc_mcp_gateway_backends{state=\"up\"}"),
        Some(0.0)
    );
    assert_eq!(
        sample(&g, "dcc_mcp_gateway_backends{state=\"down\"}"),
        Some(0.0)
    );
    assert_eq!(
        sample(&g, "dcc_mcp_gateway_backend_up{backend=\"maya-01\"}"),
        Some(0.0)
    );
    gw.shutdown();
    maya.handle.shutdown().unwrap();
    blender.handle.shutdown().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
