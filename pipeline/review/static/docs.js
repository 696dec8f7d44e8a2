// Starts the vendored Swagger UI on this app's (signed-in) OpenAPI document.
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui" });
