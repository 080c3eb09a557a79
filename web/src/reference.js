// The partners' API reference (api.html): the API's GET /openapi.json rendered by the vendored Swagger UI.
const api = String(window.FAIRSLOT_API || 'http://127.0.0.1:8000').replace(/\/+$/, '');
const status = document.getElementById('reference-status');
document.getElementById('openapi-link').href = `${api}/openapi.json`;

window.SwaggerUIBundle({
  url: `${api}/openapi.json`,
  domNode: document.getElementById('reference'),
  deepLinking: true,
  onComplete: () => { status.innerHTML = ''; document.body.dataset.reference = 'ready'; },
});
