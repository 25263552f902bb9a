//! Which local process opened a loopback TCP connection, from `/proc`: how the process
//! backend tells the proxy who dialled, for node programs that do not bind their outgoing
//! connections to their own 127.0.0.x (most real systems do not, and then every
//! connection comes from 127.0.0.1).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The inode of the IPv4 socket whose local end is `local` and remote end is `remote`,
/// from `/proc/net/tcp`.
pub(crate) fn socket_inode(local: SocketAddr, remote: SocketAddr) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let matches =
            parse_address(fields.get(1)?)? == local && parse_address(fields.get(2)?)? == remote;
        matches.then(|| fields.get(9)?.parse().ok()).flatten()
    })
}

/// `0100007F:1F90` (the address as the kernel's native-endian word, the port big-endian)
/// as 127.0.0.1:8080.
fn parse_address(field: &str) -> Option<SocketAddr> {
    let (ip, port) = field.split_once(':')?;
    let ip = u32::from_str_radix(ip, 16).ok()?;
    let port = u16::from_str_radix(port, 16).ok()?;
    Some(SocketAddr::new(
        IpAddr::V4(Ipv4Addr::from(ip.to_ne_bytes())),
        port,
    ))
}

/// Whether process `pid` holds the socket `inode` among its open files.
pub(crate) fn holds_socket(pid: u32, inode: u64) -> bool {
    let wanted = format!("socket:[{inode}]");
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path()).is_ok_and(|target| target.as_os_str() == wanted.as_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_addresses_parse() {
        let want: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let native = u32::from_ne_bytes([127, 0, 0, 1]);
        assert_eq!(parse_address(&format!("{native:08X}:1F90")), Some(want));
        assert_eq!(parse_address("zz:1"), None);
    }

    #[test]
    fn finds_the_process_that_opened_a_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_server, peer) = listener.accept().unwrap();
        let inode = socket_inode(peer, listener.local_addr().unwrap()).expect("in /proc/net/tcp");
        assert!(holds_socket(std::process::id(), inode));
        assert!(!holds_socket(1, inode));
        drop(client);
    }
}
