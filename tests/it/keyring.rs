//! `pytopus auth` against the real Linux kernel keyring (SPEC §5): secrets
//! stored by one process are read by the next, names are checked, and no
//! output ever shows a value.
//!
//! Runs in CI as root in a container, with no session bus and no session
//! keyring: exactly the case where pytopus must join a session keyring of
//! its own. A machine whose kernel keyring is unusable fails these tests,
//! on purpose: they do not skip.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::support::{Output, run_cmd};
use pytopus::secret::{Secret, SecretStore, open_keyutils};

/// The index of names is one keyring entry updated by read-modify-write:
/// tests that store secrets take turns, or one could drop another's name.
static KEYRING: Mutex<()> = Mutex::new(());

fn keyring_turn() -> MutexGuard<'static, ()> {
    KEYRING.lock().unwrap_or_else(|e| e.into_inner())
}

/// `pytopus auth ARGS` with `stdin`, on the kernel keyutils store: no
/// session bus, so no Secret Service, whatever the developer's desktop has.
fn auth(args: &[&str], stdin: &str) -> Output {
    let no_bus = tempfile::tempdir().expect("a temp dir");
    let mut cmd = crate::support::pytopus();
    cmd.arg("auth")
        .args(args)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("XDG_RUNTIME_DIR", no_bus.path())
        .write_stdin(stdin);
    run_cmd(&mut cmd)
}

/// A secret name no other run uses, deleted again when the test ends.
struct TestName {
    name: String,
}

impl TestName {
    fn new(what: &str) -> Self {
        TestName {
            name: format!("pytopus_test_{}_{what}", std::process::id()),
        }
    }
}

impl Drop for TestName {
    fn drop(&mut self) {
        if let Ok(store) = open_keyutils() {
            let _ = store.delete(&self.name);
        }
    }
}

fn store() -> Arc<dyn SecretStore> {
    open_keyutils().unwrap_or_else(|e| panic!("the kernel keyutils store must be usable here: {e}"))
}

fn listed(out: &Output) -> Vec<&str> {
    out.stdout.lines().collect()
}

#[track_caller]
fn assert_ok(out: &Output, what: &str) {
    assert_eq!(
        out.code, 0,
        "{what} failed\nstdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
}

#[test]
fn a_secret_set_by_one_process_is_listed_read_and_deleted_by_others() {
    let _turn = keyring_turn();
    let t = TestName::new("round_trip");
    let name = t.name.as_str();
    let value = format!("s3cr3t-{}", std::process::id());

    let set = auth(&["set", name], &format!("{value}\n"));
    assert_ok(&set, "auth set");
    assert_eq!(
        set.stderr,
        format!("stored secret {name} in Linux kernel keyutils\n")
    );
    assert_eq!(set.stdout, "");

    let list = auth(&["list"], "");
    assert_ok(&list, "auth list");
    assert!(
        listed(&list).contains(&name),
        "{name} not in {:?}",
        list.stdout
    );

    // This test process is a third one: it reads what `set` stored, with
    // the one trailing newline dropped.
    let read = store().get(name).unwrap();
    assert_eq!(read.as_ref().map(Secret::expose), Some(value.as_str()));

    let delete = auth(&["delete", name], "");
    assert_ok(&delete, "auth delete");
    assert_eq!(
        delete.stderr,
        format!("deleted secret {name} from Linux kernel keyutils\n")
    );

    let again = auth(&["delete", name], "");
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert_eq!(
        again.stderr,
        format!("error: there is no secret `{name}` in Linux kernel keyutils\n")
    );

    let list = auth(&["list"], "");
    assert_ok(&list, "auth list");
    assert!(!listed(&list).contains(&name), "{name} still listed");
    assert_eq!(store().get(name).unwrap(), None);
}

#[test]
fn a_secret_stored_through_the_library_is_listed_and_deleted_by_the_binary() {
    let _turn = keyring_turn();
    let t = TestName::new("library");
    let name = t.name.as_str();
    store().set(name, &Secret::new("from-the-library")).unwrap();

    let list = auth(&["list"], "");
    assert_ok(&list, "auth list");
    assert!(
        listed(&list).contains(&name),
        "{name} not in {:?}",
        list.stdout
    );
    assert!(store().list().unwrap().contains(&t.name));

    assert_ok(&auth(&["delete", name], ""), "auth delete");
    assert!(!store().list().unwrap().contains(&t.name));
}

#[test]
fn list_prints_names_sorted_one_a_line_and_nothing_else() {
    let _turn = keyring_turn();
    let (b, a) = (TestName::new("list_b"), TestName::new("list_a"));
    assert_ok(&auth(&["set", &b.name], "1"), "auth set");
    assert_ok(&auth(&["set", &a.name], "2"), "auth set");
    let list = auth(&["list"], "");
    assert_ok(&list, "auth list");
    let names = listed(&list);
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let ours: Vec<&str> = names.into_iter().filter(|n| n.contains("_list_")).collect();
    assert_eq!(ours, [a.name.as_str(), b.name.as_str()]);
}

#[test]
fn names_with_unusual_characters_are_rejected_before_anything_is_read() {
    for bad in [
        "a b",
        "a/b",
        "x=y",
        "$HOME",
        "caf\u{e9}",
        "tab\tname",
        "__pytopus_index__",
    ] {
        let set = auth(&["set", bad], "value");
        assert_eq!(set.code, 2, "{bad}: {}", set.stderr);
        assert!(set.stderr.starts_with("error: `"), "{bad}: {}", set.stderr);
        let delete = auth(&["delete", bad], "");
        assert_eq!(delete.code, 2, "{bad}: {}", delete.stderr);
    }
    let set = auth(&["set", "a b"], "value");
    assert_eq!(
        set.stderr,
        "error: `a b` is not a valid secret name (' ' is not allowed): use ASCII letters, digits, `_`, `-` and `.`\n"
    );
}

#[test]
fn an_empty_value_is_refused() {
    let t = TestName::new("empty");
    for stdin in ["", "\n"] {
        let set = auth(&["set", &t.name], stdin);
        assert_eq!(set.code, 2, "{}", set.stderr);
        assert!(
            set.stderr.contains("is empty: nothing stored"),
            "{}",
            set.stderr
        );
    }
}

#[test]
fn no_output_ever_shows_a_secret_value() {
    let _turn = keyring_turn();
    let t = TestName::new("quiet");
    let name = t.name.as_str();
    let value = format!("never-print-me-{}", std::process::id());
    let env_value = format!("env-never-print-me-{}", std::process::id());
    let env_var = pytopus::secret::env_var_name(name);

    let mut outputs = vec![
        auth(&["set", name], &value),
        auth(&["set", name], &format!("{value}-2\n")),
        auth(&["list"], ""),
    ];
    // With the variable set too: the notes name it, never its value.
    let no_bus = tempfile::tempdir().unwrap();
    for args in [
        &["set", name][..],
        &["list"],
        &["delete", name],
        &["delete", name],
    ] {
        let mut cmd = crate::support::pytopus();
        cmd.arg("auth")
            .args(args)
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env("XDG_RUNTIME_DIR", no_bus.path())
            .env(&env_var, &env_value)
            .write_stdin(value.as_str());
        let out = run_cmd(&mut cmd);
        assert!(out.stderr.contains(&env_var), "{args:?}: {}", out.stderr);
        outputs.push(out);
    }
    for out in &outputs {
        for secret in [&value, &env_value] {
            assert!(
                !out.stdout.contains(secret.as_str()) && !out.stderr.contains(secret.as_str()),
                "a value was printed:\nstdout: {}\nstderr: {}",
                out.stdout,
                out.stderr
            );
        }
    }
    assert_eq!(
        outputs[..6].iter().map(|o| o.code).collect::<Vec<_>>(),
        [0, 0, 0, 0, 0, 0]
    );
    assert_eq!(outputs[6].code, 1, "the second delete finds nothing");
}
