fn main() {
    println!("glbpd {}", env!("CARGO_PKG_VERSION"));
}
