# A minimal image of the drover binary: a static (musl) build on Alpine, then an empty base image
# holding only the binary and CA certificates, running as an unprivileged user.
#
#   docker build -t drover:dev .

FROM rust:1.95-alpine AS build
RUN apk add --no-cache musl-dev ca-certificates
WORKDIR /src
# The workspace manifest names the integration-tests member, so cargo needs its manifest too.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY integration-tests ./integration-tests
RUN cargo build --release --locked -p drover --bin drover \
 && install -D -m 0555 target/release/drover /out/drover

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/drover /drover
# Any non-zero UID works; 65532 is the conventional "nonroot" one the chart runs as.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/drover"]
CMD ["run"]
