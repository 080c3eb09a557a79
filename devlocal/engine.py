"""The local DynamoDB engine: moto's server, serialized (devlocal.serial_moto), on loopback."""
import threading

from devlocal import serial_moto


class Engine:
    def __init__(self, host="127.0.0.1", port=8001):
        self.host, self.port = host, port
        self._server = None
        self._thread = None

    @property
    def endpoint(self):
        return f"http://{self.host}:{self.port}"

    def start(self):
        serial_moto.apply()
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        class QuietHandler(MotoRequestHandler):
            disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms stalls

            def log_request(self, *args, **kwargs):  # one line per DynamoDB call drowns the API log
                pass

        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(self.host, self.port, app, threaded=True, request_handler=QuietHandler)
        self._server.socket.listen(1024)  # a burst of API threads is queued, not dropped
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="dynamodb-engine", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._server = None
