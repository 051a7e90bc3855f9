//! Recognises a main-thread call made from inside a main-thread tool of this same process.
//!
//! A main-thread tool that calls a main-thread tool of its own server over MCP (a plug-in composing
//! its tools through an MCP client) deadlocks: the outer tool holds the host's main thread while it
//! waits for the answer, and the inner call waits in the queue for that same thread. Without help it
//! ends only when the inner call's `request_timeout` passes, with the host frozen all along. The
//! queue refuses such a call at once instead, and only such a call: the request's TCP peer must be a
//! socket of this very process, and the thread running the main-thread handler must be blocked
//! waiting on that socket — in `read`/`recvfrom`/`recvmsg` on it, in `poll`/`ppoll` with it among
//! the polled descriptors (a socket with a timeout, `urllib`, `httpx`), or in `epoll_wait` on an
//! epoll set that holds it (`asyncio`, any event loop). Another thread of the process calling a
//! main-thread tool while the host is busy is not refused: it waits as any client does.
//!
//! Linux only, read from `/proc` (`/proc/net/tcp*` for the socket's inode, `/proc/self/fd` for its
//! descriptor, `/proc/self/task/<tid>/syscall` for what the thread waits on, `/proc/self/mem` for a
//! `poll` array, `/proc/self/fdinfo` for an epoll set). Elsewhere nothing is recognised and such a
//! call waits for its `request_timeout`, as before.

use std::net::SocketAddr;

tokio::task_local! {
    /// The client address of the request whose future is running; the connection loop (`serve`)
    /// sets it around the router's future, so that the main-thread queue, far below the handlers,
    /// knows who asks.
    pub(crate) static REQUEST_CLIENT: SocketAddr;
}

/// The address of the client whose request this task is serving, if any.
pub(super) fn request_client() -> Option<SocketAddr> {
    REQUEST_CLIENT.try_with(|client| *client).ok()
}

/// The OS thread id of the calling thread (`None` where it cannot be read).
pub(super) fn current_thread() -> Option<u32> {
    imp::current_thread()
}

/// The descriptors of this process's socket whose local address is `client` (the peer of a
/// request); `None` when it is not a socket of this process.
pub(super) fn own_socket(client: SocketAddr) -> Option<Vec<u32>> {
    imp::own_socket(client)
}

/// Whether thread `thread` of this process is blocked waiting for one of `fds`.
pub(super) fn waits_on(thread: u32, fds: &[u32]) -> bool {
    imp::waits_on(thread, fds)
}

#[cfg(target_os = "linux")]
mod imp {
    use std::net::{IpAddr, SocketAddr};
    use std::os::unix::fs::FileExt;

    /// Most `pollfd` entries read from a `poll` call's array.
    const MAX_POLLFDS: u64 = 256;

    /// What a blocked thread waits on, by the kind of its system call.
    enum Wait {
        /// `read`, `recvfrom`, `recvmsg`: the descriptor is the first argument.
        Fd,
        /// `poll`, `ppoll`: an array of `pollfd` and its length.
        Poll,
        /// `epoll_wait`, `epoll_pwait`, `epoll_pwait2`: the epoll descriptor.
        Epoll,
    }

    fn wait_kind(nr: i64) -> Option<Wait> {
        #[cfg(target_arch = "x86_64")]
        let kind = match nr {
            0 | 45 | 47 => Some(Wait::Fd),
            7 | 271 => Some(Wait::Poll),
            232 | 281 | 441 => Some(Wait::Epoll),
            _ => None,
        };
        #[cfg(target_arch = "aarch64")]
        let kind = match nr {
            63 | 207 | 212 => Some(Wait::Fd),
            73 => Some(Wait::Poll),
            22 | 441 => Some(Wait::Epoll),
            _ => None,
        };
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        let kind = {
            let _ = nr;
            None
        };
        kind
    }

    pub(super) fn current_thread() -> Option<u32> {
        // "<pid>/task/<tid>"
        let link = std::fs::read_link("/proc/thread-self").ok()?;
        link.file_name()?.to_str()?.parse().ok()
    }

    /// `addr` as `/proc/net/tcp*` prints a local address: each 32-bit word of the address in host
    /// byte order, in hex, then the port.
    fn proc_net_form(ip: IpAddr, port: u16) -> String {
        let words: Vec<[u8; 4]> = match ip {
            IpAddr::V4(v4) => vec![v4.octets()],
            IpAddr::V6(v6) => v6
                .octets()
                .chunks_exact(4)
                .map(|c| [c[0], c[1], c[2], c[3]])
                .collect(),
        };
        let mut text: String = words
            .iter()
            .map(|w| format!("{:08X}", u32::from_ne_bytes(*w)))
            .collect();
        text.push_str(&format!(":{port:04X}"));
        text
    }

    fn inode_of(client: SocketAddr) -> Option<String> {
        let ip = client.ip().to_canonical();
        if !ip.is_loopback() {
            return None;
        }
        let mut forms = vec![proc_net_form(ip, client.port())];
        if let IpAddr::V4(v4) = ip {
            forms.push(proc_net_form(
                IpAddr::V6(v4.to_ipv6_mapped()),
                client.port(),
            ));
        }
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            let Ok(text) = std::fs::read_to_string(table) else {
                continue;
            };
            for line in text.lines().skip(1) {
                let fields: Vec<&str> = line.split_whitespace().collect();
                if fields.len() > 9 && forms.iter().any(|f| f == fields[1]) && fields[9] != "0" {
                    return Some(fields[9].to_owned());
                }
            }
        }
        None
    }

    pub(super) fn own_socket(client: SocketAddr) -> Option<Vec<u32>> {
        let inode = inode_of(client)?;
        let wanted = format!("socket:[{inode}]");
        let fds: Vec<u32> = std::fs::read_dir("/proc/self/fd")
            .ok()?
            .flatten()
            .filter(|entry| {
                std::fs::read_link(entry.path())
                    .is_ok_and(|target| target.as_os_str() == wanted.as_str())
            })
            .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
            .collect();
        (!fds.is_empty()).then_some(fds)
    }

    /// The system call number and first two arguments of a blocked thread.
    fn blocked_in(thread: u32) -> Option<(i64, u64, u64)> {
        let text = std::fs::read_to_string(format!("/proc/self/task/{thread}/syscall")).ok()?;
        let mut fields = text.split_whitespace();
        let nr: i64 = fields.next()?.parse().ok()?;
        let arg =
            |field: Option<&str>| u64::from_str_radix(field?.trim_start_matches("0x"), 16).ok();
        Some((nr, arg(fields.next())?, arg(fields.next())?))
    }

    fn polled_fds(array: u64, count: u64) -> Vec<u32> {
        let count = count.min(MAX_POLLFDS);
        let Ok(mem) = std::fs::File::open("/proc/self/mem") else {
            return Vec::new();
        };
        // `struct pollfd { int fd; short events; short revents; }`: 8 bytes each.
        let mut bytes = vec![0u8; (count * 8) as usize];
        if mem.read_exact_at(&mut bytes, array).is_err() {
            return Vec::new();
        }
        bytes
            .chunks_exact(8)
            .filter_map(|entry| {
                u32::try_from(i32::from_ne_bytes([entry[0], entry[1], entry[2], entry[3]])).ok()
            })
            .collect()
    }

    fn epoll_fds(epfd: u64) -> Vec<u32> {
        let Ok(text) = std::fs::read_to_string(format!("/proc/self/fdinfo/{epfd}")) else {
            return Vec::new();
        };
        text.lines()
            .filter_map(|line| line.strip_prefix("tfd:"))
            .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
            .collect()
    }

    pub(super) fn waits_on(thread: u32, fds: &[u32]) -> bool {
        let Some((nr, first, second)) = blocked_in(thread) else {
            return false;
        };
        let waited: Vec<u32> = match wait_kind(nr) {
            Some(Wait::Fd) => u32::try_from(first).into_iter().collect(),
            Some(Wait::Poll) => polled_fds(first, second),
            Some(Wait::Epoll) => epoll_fds(first),
            None => Vec::new(),
        };
        waited.iter().any(|fd| fds.contains(fd))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn proc_net_form_matches_the_kernels_format() {
            // 127.0.0.1:54321 on a little-endian machine, as /proc/net/tcp prints it.
            if cfg!(target_endian = "little") {
                assert_eq!(
                    proc_net_form("127.0.0.1".parse().unwrap(), 54321),
                    "0100007F:D431"
                );
                assert_eq!(
                    proc_net_form("::1".parse().unwrap(), 80),
                    "00000000000000000000000001000000:0050"
                );
            }
        }

        #[test]
        fn a_socket_of_this_process_is_found_and_another_address_is_not() {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let fds = own_socket(client.local_addr().unwrap()).expect("our own socket");
            use std::os::fd::AsRawFd;
            assert_eq!(fds, vec![client.as_raw_fd() as u32]);
            assert_eq!(own_socket("10.1.2.3:4000".parse().unwrap()), None);
        }

        #[test]
        fn a_thread_blocked_reading_a_socket_waits_on_it_and_an_idle_one_does_not() {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (_server, _) = listener.accept().unwrap();
            let fds = own_socket(client.local_addr().unwrap()).unwrap();
            let (tid_tx, tid_rx) = std::sync::mpsc::channel();
            let reader = std::thread::spawn(move || {
                tid_tx.send(current_thread().unwrap()).unwrap();
                let mut byte = [0u8; 1];
                use std::io::Read;
                let _ = (&client).read(&mut byte); // blocks until the server side closes
            });
            let tid = tid_rx.recv().unwrap();
            // The thread reaches its read some time after sending its id: wait for that state,
            // without a time bound (the test fails by hanging, never by being slow).
            while !waits_on(tid, &fds) {
                std::thread::yield_now();
            }
            assert!(!waits_on(current_thread().unwrap(), &fds));
            drop(_server);
            reader.join().unwrap();
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::net::SocketAddr;

    pub(super) fn current_thread() -> Option<u32> {
        None
    }

    pub(super) fn own_socket(_client: SocketAddr) -> Option<Vec<u32>> {
        None
    }

    pub(super) fn waits_on(_thread: u32, _fds: &[u32]) -> bool {
        false
    }
}
