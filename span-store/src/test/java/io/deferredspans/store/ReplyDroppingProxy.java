package io.deferredspans.store;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP proxy between a ZooKeeper client and server that can lose one reply on purpose: once armed, it forwards
 * the next large client request (a multi carries a few hundred bytes, pings a dozen), waits until the server has
 * answered it, throws that answer away and cuts the connection. The server has applied the request; the client
 * never hears so, reconnects through the proxy and retries, exactly as after a real network failure.
 */
final class ReplyDroppingProxy implements AutoCloseable {
  private static final int REQUEST_THRESHOLD_BYTES = 100;

  private final InetSocketAddress target;
  private final ServerSocket listener;
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();
  private final AtomicInteger armed = new AtomicInteger();
  private final CountDownLatch replyDropped = new CountDownLatch(1);
  private volatile boolean closed;
  private volatile long refuseNanos;
  private volatile long refuseUntilNanos;
  // Held: every connection is refused until released, as for a host paused (or cut off) for as long as a test
  // needs, e.g. past its session's expiry.
  private volatile boolean holding;
  private volatile boolean holdAfterDrop;
  private volatile boolean dropRequest;

  ReplyDroppingProxy(String targetConnectString) throws IOException {
    String[] hostPort = targetConnectString.split(":");
    this.target = new InetSocketAddress(hostPort[0], Integer.parseInt(hostPort[1]));
    this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread acceptor = new Thread(this::acceptLoop, "reply-dropping-proxy");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  String connectString() {
    return "127.0.0.1:" + listener.getLocalPort();
  }

  /** The next large request's reply is lost. */
  void dropNextReply() {
    dropNextReplyThenRefuseConnections(java.time.Duration.ZERO);
  }

  /**
   * The next large request's reply is lost, and reconnections are refused for {@code refusal} afterwards: long
   * enough for Curator to give up retrying, short enough for the session to survive.
   */
  void dropNextReplyThenRefuseConnections(java.time.Duration refusal) {
    refuseNanos = refusal.toNanos();
    armed.set(1);
  }

  /**
   * The next large request's reply is lost and every connection is refused until {@link #releaseConnections()}:
   * a host paused between sending a request and hearing its answer.
   */
  void dropNextReplyAndHoldConnections() {
    holdAfterDrop = true;
    dropRequest = false;
    armed.set(1);
  }

  /**
   * The next large request never reaches the server (nothing is applied), and every connection is refused until
   * {@link #releaseConnections()}.
   */
  void dropNextRequestAndHoldConnections() {
    holdAfterDrop = true;
    dropRequest = true;
    armed.set(1);
  }

  /** Accepts connections again after a hold. */
  void releaseConnections() {
    holdAfterDrop = false;
    holding = false;
  }

  boolean awaitReplyDropped(java.time.Duration timeout) throws InterruptedException {
    return replyDropped.await(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  private void acceptLoop() {
    while (!closed) {
      try {
        Socket client = listener.accept();
        if (holding || System.nanoTime() < refuseUntilNanos) {
          closeQuietly(client);
          continue;
        }
        Socket server = new Socket(target.getAddress(), target.getPort());
        sockets.add(client);
        sockets.add(server);
        Connection connection = new Connection(client, server);
        start(() -> connection.pump(client, server, true));
        start(() -> connection.pump(server, client, false));
      } catch (IOException e) {
        if (!closed) {
          throw new IllegalStateException("proxy accept failed", e);
        }
      }
    }
  }

  private static void start(Runnable pump) {
    Thread thread = new Thread(pump, "reply-dropping-proxy-pump");
    thread.setDaemon(true);
    thread.start();
  }

  /** One client connection; the two pumps share whether a forwarded request's reply must be dropped. */
  private final class Connection {
    private final Socket client;
    private final Socket server;
    private volatile boolean dropReply;

    Connection(Socket client, Socket server) {
      this.client = client;
      this.server = server;
    }

    void pump(Socket from, Socket to, boolean clientToServer) {
      byte[] buffer = new byte[64 * 1024];
      try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
        int n;
        while ((n = in.read(buffer)) >= 0) {
          if (!clientToServer && dropReply) {
            dropped();
            return;
          }
          // Armed before the request goes out: a server quicker than this thread would otherwise have its reply
          // forwarded before the flag was up (the reply was then not lost, and the test flaked).
          if (clientToServer && n >= REQUEST_THRESHOLD_BYTES && armed.compareAndSet(1, 0)) {
            if (dropRequest) {
              dropped();
              return;
            }
            dropReply = true;
          }
          out.write(buffer, 0, n);
          out.flush();
        }
      } catch (IOException e) {
        // one side went away: close both so the client notices and reconnects
      } finally {
        cut();
      }
    }

    private void dropped() {
      refuseUntilNanos = System.nanoTime() + refuseNanos;
      holding = holdAfterDrop;
      cut();
      replyDropped.countDown();
    }

    private void cut() {
      closeQuietly(client);
      closeQuietly(server);
    }
  }

  private static void closeQuietly(Socket socket) {
    try {
      socket.close();
    } catch (IOException e) {
      // already closed
    }
  }

  @Override
  public void close() throws IOException {
    closed = true;
    listener.close();
    sockets.forEach(ReplyDroppingProxy::closeQuietly);
  }
}
