// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 BFG developers
//
// bfg-bench-baseline: the physical-limit reference of bench/baseline (issue 6).
// One thread, one epoll set, non-blocking sockets, no Qt and no libraries:
// just enough of BFG's protocol on one port that an unmodified bfg-probe
// takes it for a bfgd with both roles.
//
//   GET  /v1/assign?user=U  -> AssignResponse (Protobuf or JSON, as Accept asks):
//                              this server's ws:// and http:// URIs, token = U
//   POST /v1/publish        -> a Protobuf PublishRequest; each item gets the next
//                              seq of its stream; a PublishResponse in item order
//   GET  /v1/ws             -> RFC 6455 upgrade; Hello (the token is the user id,
//                              not verified) -> Welcome for "user:<id>"; then every
//                              message published to that stream, built once and
//                              written with one writev(); pings both ways
//
// What it leaves out on purpose: history and replay (a resume that missed
// something is told recovered=false), dedup of message ids, persistence,
// tokens, more than one stream per user. That is the floor bfgd is measured
// against, not a server.
#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace {

constexpr size_t MaxHeaderBytes = 16 * 1024;
constexpr size_t MaxBodyBytes = 16 * 1024 * 1024;
constexpr size_t MaxOutputBytes = 4 * 1024 * 1024; // a client further behind is closed
constexpr size_t ReadChunk = 64 * 1024;
constexpr char Epoch[] = "baseline";
constexpr char WebSocketGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

volatile std::sig_atomic_t g_stop = 0;

int64_t nowUs()
{
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

// --- SHA-1 (RFC 3174) and base64: only for Sec-WebSocket-Accept -------------

uint32_t rotl(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

std::array<uint8_t, 20> sha1(std::string message)
{
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    const uint64_t bits = uint64_t(message.size()) * 8;
    message += char(0x80);
    while (message.size() % 64 != 56)
        message += char(0);
    for (int i = 7; i >= 0; --i)
        message += char(bits >> (i * 8));
    for (size_t block = 0; block < message.size(); block += 64) {
        uint32_t w[80];
        for (int i = 0; i < 16; ++i) {
            const auto *p = reinterpret_cast<const uint8_t *>(message.data() + block + 4 * i);
            w[i] = uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
        }
        for (int i = 16; i < 80; ++i)
            w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int i = 0; i < 80; ++i) {
            uint32_t f, k;
            if (i < 20) {
                f = (b & c) | (~b & d), k = 0x5A827999;
            } else if (i < 40) {
                f = b ^ c ^ d, k = 0x6ED9EBA1;
            } else if (i < 60) {
                f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
            } else {
                f = b ^ c ^ d, k = 0xCA62C1D6;
            }
            const uint32_t t = rotl(a, 5) + f + e + k + w[i];
            e = d, d = c, c = rotl(b, 30), b = a, a = t;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
    }
    std::array<uint8_t, 20> digest;
    for (int i = 0; i < 20; ++i)
        digest[size_t(i)] = uint8_t(h[i / 4] >> (24 - 8 * (i % 4)));
    return digest;
}

std::string base64(const uint8_t *data, size_t size)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (size_t i = 0; i < size; i += 3) {
        const uint32_t n = uint32_t(data[i]) << 16 | (i + 1 < size ? uint32_t(data[i + 1]) << 8 : 0) |
                           (i + 2 < size ? data[i + 2] : 0);
        out += alphabet[n >> 18 & 63];
        out += alphabet[n >> 12 & 63];
        out += i + 1 < size ? alphabet[n >> 6 & 63] : '=';
        out += i + 2 < size ? alphabet[n & 63] : '=';
    }
    return out;
}

// --- Protobuf wire format, for the few bfg.v1 messages spoken here ----------

void putVarint(std::string &out, uint64_t value)
{
    while (value >= 0x80) {
        out += char(value | 0x80);
        value >>= 7;
    }
    out += char(value);
}

void putUint(std::string &out, int field, uint64_t value)
{
    if (value == 0)
        return; // proto3: zero is the default and not written
    putVarint(out, uint64_t(field) << 3);
    putVarint(out, value);
}

void putBytes(std::string &out, int field, std::string_view value)
{
    if (value.empty())
        return;
    putVarint(out, uint64_t(field) << 3 | 2);
    putVarint(out, value.size());
    out.append(value);
}

// Walks the fields of one message; skips what it does not need.
struct ProtoReader
{
    const uint8_t *p;
    const uint8_t *end;
    int field = 0;
    uint64_t number = 0;    // wire type 0
    std::string_view bytes; // wire type 2
    bool bad = false;

    explicit ProtoReader(std::string_view data)
        : p(reinterpret_cast<const uint8_t *>(data.data()))
        , end(p + data.size())
    {}

    bool varint(uint64_t *value)
    {
        *value = 0;
        for (int shift = 0; shift < 64 && p < end; shift += 7) {
            const uint8_t byte = *p++;
            *value |= uint64_t(byte & 0x7f) << shift;
            if (!(byte & 0x80))
                return true;
        }
        return false;
    }

    bool next()
    {
        uint64_t key;
        if (p >= end || !varint(&key))
            return false;
        field = int(key >> 3);
        switch (key & 7) {
        case 0:
            bad = !varint(&number);
            break;
        case 1:
            bad = end - p < 8, p += bad ? 0 : 8;
            break;
        case 5:
            bad = end - p < 4, p += bad ? 0 : 4;
            break;
        case 2: {
            uint64_t size;
            bad = !varint(&size) || size > uint64_t(end - p);
            if (!bad) {
                bytes = std::string_view(reinterpret_cast<const char *>(p), size);
                p += size;
            }
            break;
        }
        default:
            bad = true;
        }
        return !bad;
    }
};

// --- Connections and streams -------------------------------------------------

struct Connection;

struct Stream
{
    uint64_t seq = 0;
    Connection *reader = nullptr; // the live session of the stream's user, if any
};

struct Connection
{
    int fd = -1;
    bool webSocket = false;
    bool closeAfterFlush = false;
    bool doomed = false; // shut down; closed when epoll reports it
    bool watchingOutput = false;
    std::string in;
    std::string out; // what a short write left over
    size_t outOffset = 0;
    std::string fragments; // a binary message split over several frames
    Stream *stream = nullptr;
    int64_t nextPingUs = 0;
};

struct Request
{
    std::string method;
    std::string target;
    bool keepAlive = true;
    std::string webSocketKey;
    bool wantsProtobuf = false;
    std::string_view body;
};

class Server
{
public:
    Server(int listenFd, std::string host, int port, std::string nodeId, int heartbeatMs, bool nagle);
    void run();
    void printStats() const;

private:
    void accept();
    void onReadable(Connection *connection);
    void onWritable(Connection *connection);
    void close(Connection *connection);
    void send(Connection *connection, std::string_view head, std::string_view body = {});
    void watchOutput(Connection *connection, bool on);

    bool handleHttp(Connection *connection);
    void respond(Connection *connection, const Request &request, int status, std::string_view contentType,
                 std::string_view body);
    void assign(Connection *connection, const Request &request);
    void publish(Connection *connection, const Request &request);
    void upgrade(Connection *connection, const Request &request);

    bool handleWebSocket(Connection *connection);
    void sendFrame(Connection *connection, int opcode, std::string_view payload);
    void onClientFrame(Connection *connection, std::string_view frame);
    void onHello(Connection *connection, std::string_view hello);
    void closeWebSocket(Connection *connection, int code, std::string_view reason);
    void sendPings();

    int m_epoll;
    int m_listen;
    bool m_listening = true;
    std::string m_wsUri;
    std::string m_httpUri;
    std::string m_nodeId;
    int m_heartbeatMs;
    bool m_nagle;
    std::vector<std::unique_ptr<Connection>> m_connections; // by descriptor
    std::unordered_map<std::string, Stream> m_streams;
    std::mt19937_64 m_random{std::random_device{}()};
    std::string m_scratch;
    std::string m_frame;

    uint64_t m_accepted = 0, m_sessions = 0, m_requests = 0, m_published = 0, m_delivered = 0;
    uint64_t m_slowClosed = 0;
};

Server::Server(int listenFd, std::string host, int port, std::string nodeId, int heartbeatMs, bool nagle)
    : m_epoll(epoll_create1(EPOLL_CLOEXEC))
    , m_listen(listenFd)
    , m_wsUri("ws://" + host + ":" + std::to_string(port) + "/v1/ws")
    , m_httpUri("http://" + host + ":" + std::to_string(port))
    , m_nodeId(std::move(nodeId))
    , m_heartbeatMs(heartbeatMs)
    , m_nagle(nagle)
{
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    m_connections.resize(limit.rlim_cur == RLIM_INFINITY ? 1 << 20 : size_t(limit.rlim_cur));
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = m_listen;
    epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_listen, &event);
}

void Server::run()
{
    std::vector<epoll_event> events(1024);
    int64_t nextTickUs = nowUs() + 100'000;
    while (!g_stop) {
        const int timeoutMs = int(std::max<int64_t>(0, (nextTickUs - nowUs()) / 1000));
        const int count = epoll_wait(m_epoll, events.data(), int(events.size()), timeoutMs);
        if (count < 0 && errno != EINTR) {
            std::perror("bfg-bench-baseline: epoll_wait");
            return;
        }
        for (int i = 0; i < count; ++i) {
            const int fd = events[size_t(i)].data.fd;
            if (fd == m_listen) {
                accept();
                continue;
            }
            Connection *connection = m_connections[size_t(fd)].get();
            if (connection && (events[size_t(i)].events & EPOLLOUT))
                onWritable(connection);
            connection = m_connections[size_t(fd)].get(); // the write may have closed it
            if (connection && (events[size_t(i)].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                onReadable(connection);
        }
        if (nowUs() >= nextTickUs) {
            nextTickUs = nowUs() + 100'000;
            sendPings();
            if (!m_listening) { // out of descriptors a moment ago: try again
                epoll_event event{};
                event.events = EPOLLIN;
                event.data.fd = m_listen;
                m_listening = epoll_ctl(m_epoll, EPOLL_CTL_MOD, m_listen, &event) == 0;
            }
        }
    }
}

void Server::accept()
{
    for (int burst = 0; burst < 256; ++burst) {
        const int fd = accept4(m_listen, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                // Level-triggered: stop asking until the next tick instead of spinning.
                epoll_event event{};
                epoll_ctl(m_epoll, EPOLL_CTL_MOD, m_listen, &event);
                m_listening = false;
            }
            return;
        }
        if (size_t(fd) >= m_connections.size()) {
            ::close(fd);
            continue;
        }
        const int one = 1;
        if (!m_nagle)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        auto connection = std::make_unique<Connection>();
        connection->fd = fd;
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.fd = fd;
        epoll_ctl(m_epoll, EPOLL_CTL_ADD, fd, &event);
        m_connections[size_t(fd)] = std::move(connection);
        ++m_accepted;
    }
}

void Server::close(Connection *connection)
{
    if (connection->stream && connection->stream->reader == connection)
        connection->stream->reader = nullptr;
    const int fd = connection->fd;
    ::close(fd); // also leaves the epoll set
    m_connections[size_t(fd)].reset();
}

void Server::watchOutput(Connection *connection, bool on)
{
    if (connection->watchingOutput == on)
        return;
    connection->watchingOutput = on;
    epoll_event event{};
    event.events = on ? EPOLLIN | EPOLLOUT : EPOLLIN;
    event.data.fd = connection->fd;
    epoll_ctl(m_epoll, EPOLL_CTL_MOD, connection->fd, &event);
}

// Writes at once when nothing is queued; what the socket does not take waits for EPOLLOUT.
// Never closes: callers may still hold the connection. A client too far behind is shut
// down here and closed once epoll reports the hang-up.
void Server::send(Connection *connection, std::string_view head, std::string_view body)
{
    if (connection->doomed)
        return;
    if (connection->out.size() > connection->outOffset) {
        connection->out.append(head).append(body);
        if (connection->out.size() - connection->outOffset > MaxOutputBytes) {
            ++m_slowClosed;
            connection->doomed = true;
            connection->out.clear();
            connection->outOffset = 0;
            if (connection->stream && connection->stream->reader == connection)
                connection->stream->reader = nullptr;
            shutdown(connection->fd, SHUT_RDWR);
        }
        return;
    }
    iovec parts[2] = {{const_cast<char *>(head.data()), head.size()},
                      {const_cast<char *>(body.data()), body.size()}};
    const ssize_t written = writev(connection->fd, parts, body.empty() ? 1 : 2);
    const size_t done = written > 0 ? size_t(written) : 0;
    if (written < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        connection->closeAfterFlush = true; // the reader will see the error and close
        return;
    }
    if (done == head.size() + body.size())
        return;
    connection->out.clear();
    connection->outOffset = 0;
    if (done < head.size())
        connection->out.append(head.substr(done)).append(body);
    else
        connection->out.append(body.substr(done - head.size()));
    watchOutput(connection, true);
}

void Server::onWritable(Connection *connection)
{
    while (connection->outOffset < connection->out.size()) {
        const ssize_t written = write(connection->fd, connection->out.data() + connection->outOffset,
                                      connection->out.size() - connection->outOffset);
        if (written < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            close(connection);
            return;
        }
        connection->outOffset += size_t(written);
    }
    connection->out.clear();
    connection->outOffset = 0;
    watchOutput(connection, false);
    if (connection->closeAfterFlush)
        close(connection);
}

void Server::onReadable(Connection *connection)
{
    char buffer[ReadChunk];
    const ssize_t got = read(connection->fd, buffer, sizeof buffer);
    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        close(connection);
        return;
    }
    if (got < 0 || connection->doomed)
        return;
    connection->in.append(buffer, size_t(got));
    const bool keep = connection->webSocket ? handleWebSocket(connection) : handleHttp(connection);
    if (!keep)
        close(connection);
    else if (connection->closeAfterFlush && connection->out.size() == connection->outOffset)
        close(connection);
}

// --- HTTP/1.1 ---------------------------------------------------------------------

std::string lower(std::string_view text)
{
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    return out;
}

bool isValidUserId(std::string_view user)
{
    return !user.empty() && user.size() <= 128 && std::all_of(user.begin(), user.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '@' || c == '-';
    });
}

// The value of `key` in the query of `target`, %XX-decoded.
std::string queryValue(std::string_view target, std::string_view key)
{
    const size_t question = target.find('?');
    if (question == std::string_view::npos)
        return {};
    std::string_view query = target.substr(question + 1);
    while (!query.empty()) {
        const size_t amp = query.find('&');
        const std::string_view item = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        const size_t equals = item.find('=');
        if (item.substr(0, equals) != key || equals == std::string_view::npos)
            continue;
        std::string value;
        for (size_t i = equals + 1; i < item.size(); ++i) {
            if (item[i] == '%' && i + 2 < item.size() && std::isxdigit(uint8_t(item[i + 1])) &&
                std::isxdigit(uint8_t(item[i + 2]))) {
                value += char(std::stoi(std::string(item.substr(i + 1, 2)), nullptr, 16));
                i += 2;
            } else {
                value += item[i] == '+' ? ' ' : item[i];
            }
        }
        return value;
    }
    return {};
}

// Handles every complete request in the buffer; false: close the connection now.
bool Server::handleHttp(Connection *connection)
{
    std::string &in = connection->in;
    while (!connection->webSocket) {
        const size_t headerEnd = in.find("\r\n\r\n");
        if (headerEnd == std::string::npos)
            return in.size() <= MaxHeaderBytes;
        Request request;
        size_t contentLength = 0;
        size_t lineEnd = in.find("\r\n");
        {
            const std::string_view line(in.data(), lineEnd);
            const size_t a = line.find(' '), b = line.rfind(' ');
            if (a == std::string_view::npos || b <= a)
                return false;
            request.method = std::string(line.substr(0, a));
            request.target = std::string(line.substr(a + 1, b - a - 1));
            request.keepAlive = line.substr(b + 1) != "HTTP/1.0";
        }
        while (lineEnd < headerEnd) {
            const size_t next = in.find("\r\n", lineEnd + 2);
            const std::string_view line(in.data() + lineEnd + 2, next - lineEnd - 2);
            lineEnd = next;
            const size_t colon = line.find(':');
            if (colon == std::string_view::npos)
                continue;
            const std::string name = lower(line.substr(0, colon));
            std::string_view value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ')
                value.remove_prefix(1);
            if (name == "content-length")
                contentLength = std::strtoull(std::string(value).c_str(), nullptr, 10);
            else if (name == "connection")
                request.keepAlive = lower(value).find("close") == std::string::npos;
            else if (name == "sec-websocket-key")
                request.webSocketKey = std::string(value);
            else if (name == "accept")
                request.wantsProtobuf = value.find("application/x-protobuf") != std::string_view::npos;
        }
        if (contentLength > MaxBodyBytes)
            return false;
        if (in.size() < headerEnd + 4 + contentLength)
            return true; // the body is still coming
        request.body = std::string_view(in.data() + headerEnd + 4, contentLength);
        ++m_requests;

        const std::string_view path = std::string_view(request.target).substr(0, request.target.find('?'));
        if (request.method == "GET" && path == "/v1/assign")
            assign(connection, request);
        else if (request.method == "POST" && path == "/v1/publish")
            publish(connection, request);
        else if (request.method == "GET" && path == "/v1/ws" && !request.webSocketKey.empty())
            upgrade(connection, request);
        else if (request.method == "GET" && path == "/v1/health")
            respond(connection, request, 200, "application/json", "{\"status\":\"ok\"}");
        else
            respond(connection, request, 404, "application/json",
                    R"({"error":{"code":"not_found","message":"no such route"}})");
        in.erase(0, headerEnd + 4 + contentLength);
        if (!request.keepAlive)
            connection->closeAfterFlush = true;
    }
    return handleWebSocket(connection); // frames right behind the upgrade request
}

void Server::respond(Connection *connection, const Request &request, int status, std::string_view contentType,
                     std::string_view body)
{
    const char *reason = status == 200 ? "OK" : status == 404 ? "Not Found" : "Bad Request";
    m_scratch = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: ";
    m_scratch.append(contentType).append("\r\nContent-Length: ").append(std::to_string(body.size()));
    m_scratch.append(request.keepAlive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n");
    send(connection, m_scratch, body);
}

void Server::assign(Connection *connection, const Request &request)
{
    const std::string user = queryValue(request.target, "user");
    if (!isValidUserId(user)) {
        respond(connection, request, 400, "application/json",
                R"({"error":{"code":"bad_request","message":"user must be 1-128 of A-Z a-z 0-9 . _ @ -"}})");
        return;
    }
    const int64_t expires = nowUs() / 1'000'000 + 3600;
    std::string body;
    if (request.wantsProtobuf) { // bfg.v1.AssignResponse
        putBytes(body, 1, m_wsUri);
        putBytes(body, 2, m_nodeId);
        putBytes(body, 3, user); // the token is the user id: nothing is verified here
        putUint(body, 4, uint64_t(expires));
        putBytes(body, 5, m_httpUri);
        respond(connection, request, 200, "application/x-protobuf", body);
        return;
    }
    body = "{\"uri\":\"" + m_wsUri + "\",\"node\":\"" + m_nodeId + "\",\"token\":\"" + user +
           "\",\"expires\":" + std::to_string(expires) + ",\"publish_uri\":\"" + m_httpUri + "\"}";
    respond(connection, request, 200, "application/json", body);
}

void Server::publish(Connection *connection, const Request &request)
{
    // First pass: check the whole batch, so that a bad request publishes nothing.
    ProtoReader batch(request.body);
    int items = 0;
    while (batch.next()) {
        if (batch.field != 1)
            continue;
        ProtoReader item(batch.bytes);
        std::string_view stream;
        while (item.next())
            stream = item.field == 1 ? item.bytes : stream;
        if (item.bad || stream.size() < 3 || stream.find(':') == std::string_view::npos) {
            respond(connection, request, 400, "application/json",
                    R"({"error":{"code":"bad_request","message":"body is not a bfg.v1.PublishRequest"}})");
            return;
        }
        ++items;
    }
    if (batch.bad || items == 0) {
        respond(
            connection, request, 400, "application/json",
            R"({"error":{"code":"bad_request","message":"publish 1 or more items as bfg.v1.PublishRequest"}})");
        return;
    }

    const int64_t publishUs = nowUs();
    std::string response; // bfg.v1.PublishResponse
    std::string result;
    ProtoReader again(request.body);
    while (again.next()) {
        if (again.field != 1)
            continue;
        std::string_view stream, payload, id;
        ProtoReader item(again.bytes);
        while (item.next()) {
            if (item.field == 1)
                stream = item.bytes;
            else if (item.field == 2)
                payload = item.bytes;
            else if (item.field == 3)
                id = item.bytes;
        }
        Stream &state = m_streams[std::string(stream)];
        const uint64_t seq = ++state.seq;
        ++m_published;
        if (Connection *reader = state.reader) {
            // The frame, built once: ServerFrame{message = Message{...}} behind its WebSocket header.
            m_scratch.clear();
            putBytes(m_scratch, 1, stream);
            putUint(m_scratch, 2, seq);
            putBytes(m_scratch, 3, Epoch);
            putBytes(m_scratch, 4, id);
            putUint(m_scratch, 5, uint64_t(publishUs));
            putBytes(m_scratch, 6, payload);
            m_frame.clear();
            putBytes(m_frame, 2, m_scratch);
            sendFrame(reader, 0x2, m_frame);
            ++m_delivered;
        }
        result.clear();
        putBytes(result, 1, stream);
        putUint(result, 2, seq);
        putBytes(result, 3, Epoch);
        putBytes(response, 1, result);
    }
    if (request.wantsProtobuf) {
        respond(connection, request, 200, "application/x-protobuf", response);
        return;
    }
    respond(connection, request, 200, "application/json",
            "{\"published\":" + std::to_string(items) + ",\"note\":\"ask for application/x-protobuf\"}");
}

void Server::upgrade(Connection *connection, const Request &request)
{
    const auto digest = sha1(request.webSocketKey + WebSocketGuid);
    std::string head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: " +
                       base64(digest.data(), digest.size()) + "\r\n\r\n";
    send(connection, head);
    connection->webSocket = true;
}

// --- WebSocket (RFC 6455) and bfg.v1 frames --------------------------------------

void Server::sendFrame(Connection *connection, int opcode, std::string_view payload)
{
    char head[10];
    size_t size = 2;
    head[0] = char(0x80 | opcode);
    if (payload.size() < 126) {
        head[1] = char(payload.size());
    } else if (payload.size() < 65536) {
        head[1] = 126;
        head[2] = char(payload.size() >> 8);
        head[3] = char(payload.size());
        size = 4;
    } else {
        head[1] = 127;
        for (int i = 0; i < 8; ++i)
            head[2 + i] = char(uint64_t(payload.size()) >> (56 - 8 * i));
        size = 10;
    }
    send(connection, std::string_view(head, size), payload);
}

void Server::closeWebSocket(Connection *connection, int code, std::string_view reason)
{
    std::string payload{char(code >> 8), char(code & 0xff)};
    payload.append(reason);
    sendFrame(connection, 0x8, payload);
    connection->closeAfterFlush = true;
}

bool Server::handleWebSocket(Connection *connection)
{
    std::string &in = connection->in;
    size_t offset = 0;
    while (!connection->closeAfterFlush && in.size() - offset >= 2) {
        const auto *p = reinterpret_cast<uint8_t *>(in.data() + offset);
        const size_t available = in.size() - offset;
        const bool fin = p[0] & 0x80;
        const int opcode = p[0] & 0x0f;
        uint64_t length = p[1] & 0x7f;
        size_t head = 2;
        if (length == 126) {
            if (available < 4)
                break;
            length = uint64_t(p[2]) << 8 | p[3];
            head = 4;
        } else if (length == 127) {
            if (available < 10)
                break;
            length = 0;
            for (int i = 0; i < 8; ++i)
                length = length << 8 | p[2 + i];
            head = 10;
        }
        if (!(p[1] & 0x80) || length > MaxBodyBytes) { // clients must mask; frames stay small
            closeWebSocket(connection, 3503, "protocol violation");
            break;
        }
        if (available < head + 4 + length)
            break;
        const uint8_t *mask = p + head;
        char *payload = in.data() + offset + head + 4;
        for (uint64_t i = 0; i < length; ++i)
            payload[i] = char(payload[i] ^ mask[i % 4]);
        const std::string_view data(payload, length);
        offset += head + 4 + length;

        if (opcode == 0x8) { // close: answer with the same code, then hang up
            closeWebSocket(connection, data.size() >= 2 ? (uint8_t(data[0]) << 8 | uint8_t(data[1])) : 1000,
                           "");
        } else if (opcode == 0x9) {
            sendFrame(connection, 0xA, data);
        } else if (opcode == 0xA) {
            // an answer to nothing we sent: WebSocket-level pings are the client's business
        } else if (opcode == 0x2 || (opcode == 0x0 && !connection->fragments.empty())) {
            if (!fin || !connection->fragments.empty()) {
                connection->fragments.append(data);
                if (fin) {
                    const std::string message = std::move(connection->fragments);
                    connection->fragments.clear();
                    onClientFrame(connection, message);
                }
            } else {
                onClientFrame(connection, data);
            }
        } else {
            closeWebSocket(connection, 3503, "text or unknown frame");
        }
    }
    in.erase(0, offset);
    return true;
}

void Server::onClientFrame(Connection *connection, std::string_view frame)
{
    ProtoReader client(frame); // bfg.v1.ClientFrame
    while (client.next()) {
        if (client.field == 1) {
            onHello(connection, client.bytes);
            return;
        }
        if (client.field == 2) { // Ping -> Pong with the same nonce
            ProtoReader ping(client.bytes);
            uint64_t nonce = 0;
            while (ping.next())
                nonce = ping.field == 1 ? ping.number : nonce;
            std::string pong, server;
            putUint(pong, 1, nonce);
            putVarint(server, 4 << 3 | 2);
            putVarint(server, pong.size());
            server += pong;
            sendFrame(connection, 0x2, server);
            return;
        }
        if (client.field == 3)
            return; // Pong
    }
    closeWebSocket(connection, 3503, "undecodable frame");
}

void Server::onHello(Connection *connection, std::string_view hello)
{
    if (connection->stream) {
        closeWebSocket(connection, 3503, "second hello");
        return;
    }
    std::string_view token;
    std::string resumeEpoch;
    uint64_t resumeSeq = 0;
    bool resumed = false;
    ProtoReader reader(hello);
    while (reader.next()) {
        if (reader.field == 1) {
            token = reader.bytes;
        } else if (reader.field == 2) { // StreamPosition: a single stream, the user's own
            ProtoReader position(reader.bytes);
            resumed = true;
            while (position.next()) {
                if (position.field == 2)
                    resumeEpoch = std::string(position.bytes);
                else if (position.field == 3)
                    resumeSeq = position.number;
            }
        }
    }
    if (!isValidUserId(token)) {
        std::string error, server;
        putUint(error, 1, 3500);
        putBytes(error, 2, "bad token");
        putBytes(server, 6, error);
        sendFrame(connection, 0x2, server);
        closeWebSocket(connection, 3500, "bad token");
        return;
    }
    const std::string streamName = "user:" + std::string(token);
    Stream &stream = m_streams[streamName];
    if (stream.reader && stream.reader != connection)
        stream.reader->stream = nullptr; // an older session of the user hears nothing more
    stream.reader = connection;
    connection->stream = &stream;
    ++m_sessions;

    // No history here: a resume is recovered only when it missed nothing.
    const bool recovered = !resumed || (resumeEpoch == Epoch && resumeSeq == stream.seq);
    std::string state, welcome, server;
    putBytes(state, 1, streamName);
    putBytes(state, 2, Epoch);
    putUint(state, 3, stream.seq);
    putUint(state, 4, recovered ? 1 : 0);
    putBytes(welcome, 1, m_nodeId + "-" + std::to_string(m_sessions));
    putBytes(welcome, 2, m_nodeId);
    putUint(welcome, 3, uint64_t(m_heartbeatMs));
    putBytes(welcome, 4, state);
    putBytes(server, 1, welcome);
    sendFrame(connection, 0x2, server);
    // The first ping at a random point of the first interval, as bfgd does.
    connection->nextPingUs =
        nowUs() + int64_t(std::uniform_int_distribution<int64_t>(1, m_heartbeatMs)(m_random)) * 1000;
}

void Server::sendPings()
{
    const int64_t now = nowUs();
    for (auto &slot : m_connections) {
        Connection *connection = slot.get();
        if (!connection || !connection->stream || connection->nextPingUs > now)
            continue;
        connection->nextPingUs = now + int64_t(m_heartbeatMs) * 1000;
        std::string ping, server;
        putUint(ping, 1, m_random());
        putBytes(server, 3, ping);
        sendFrame(connection, 0x2, server);
    }
}

void Server::printStats() const
{
    std::fprintf(stderr,
                 "bfg-bench-baseline: %llu connections accepted, %llu sessions, %llu HTTP requests, "
                 "%llu published, %llu written to a session, %llu closed as too slow\n",
                 (unsigned long long)m_accepted, (unsigned long long)m_sessions,
                 (unsigned long long)m_requests, (unsigned long long)m_published,
                 (unsigned long long)m_delivered, (unsigned long long)m_slowClosed);
}

void usage(std::FILE *to)
{
    std::fputs(
        "usage: bfg-bench-baseline [--listen HOST:PORT] [--node-id NAME] [--heartbeat-ms MS] [--nagle]\n"
        "  An epoll WebSocket server speaking just enough of BFG's protocol for bfg-probe\n"
        "  (assign, publish, personal streams) on one port: the reference of bench/baseline.\n"
        "  --listen       default 127.0.0.1:0 (port 0: a free one; the ready line names it)\n"
        "  --node-id      default baseline-PORT\n"
        "  --heartbeat-ms ping interval announced and kept (default 25000)\n"
        "  --nagle        leave Nagle's algorithm on (default: TCP_NODELAY on every socket)\n",
        to);
}

} // namespace

int main(int argc, char *argv[])
{
    std::string listen = "127.0.0.1:0";
    std::string nodeId;
    int heartbeatMs = 25000;
    bool nagle = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            usage(stdout);
            return 0;
        }
        if (arg == "--nagle") {
            nagle = true;
            continue;
        }
        if (i + 1 >= argc) {
            usage(stderr);
            return 2;
        }
        if (arg == "--listen")
            listen = argv[++i];
        else if (arg == "--node-id")
            nodeId = argv[++i];
        else if (arg == "--heartbeat-ms")
            heartbeatMs = std::max(100, std::atoi(argv[++i]));
        else {
            usage(stderr);
            return 2;
        }
    }

    // Every descriptor the hard limit allows: one per client.
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);

    const size_t colon = listen.rfind(':');
    const std::string host = listen.substr(0, colon);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(uint16_t(std::atoi(listen.c_str() + colon + 1)));
    if (colon == std::string::npos || inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
        std::fprintf(stderr, "bfg-bench-baseline: --listen wants IPv4:PORT, got %s\n", listen.c_str());
        return 2;
    }
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t size = sizeof address;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0 ||
        ::listen(fd, 4096) != 0 || getsockname(fd, reinterpret_cast<sockaddr *>(&address), &size) != 0) {
        std::fprintf(stderr, "bfg-bench-baseline: cannot listen on %s: %s\n", listen.c_str(),
                     std::strerror(errno));
        return 1;
    }
    const int port = ntohs(address.sin_port);
    if (nodeId.empty())
        nodeId = "baseline-" + std::to_string(port);

    struct sigaction action = {};
    action.sa_handler = [](int) { g_stop = 1; };
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    Server server(fd, host, port, nodeId, heartbeatMs, nagle);
    std::printf("bfg-bench-baseline: ready http=http://%s:%d ws=ws://%s:%d/v1/ws node=%s nofile=%llu\n",
                host.c_str(), port, host.c_str(), port, nodeId.c_str(), (unsigned long long)limit.rlim_cur);
    std::fflush(stdout);
    server.run();
    server.printStats();
    return 0;
}
