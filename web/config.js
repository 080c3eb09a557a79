// Deployment configuration, loaded before the app. On AWS, replace this file with the API's URL,
// e.g. window.FAIRSLOT_API = 'https://api.example.gouv.fr';
window.FAIRSLOT_API = window.FAIRSLOT_API || 'http://127.0.0.1:8000';
