(function () {
  'use strict';
  function show(message) {
    var list = document.getElementById('js-errors');
    if (!list) {
      document.addEventListener('DOMContentLoaded', function () { show(message); });
      return;
    }
    var item = document.createElement('li');
    item.className = 'js-error';
    item.textContent = 'This report\u2019s script failed: ' + message;
    list.appendChild(item);
    list.hidden = false;
  }
  window.addEventListener('error', function (e) {
    show(e.message || String(e.error || 'an error'));
  });
  window.addEventListener('unhandledrejection', function (e) {
    show(String(e.reason));
  });
  document.addEventListener('securitypolicyviolation', function (e) {
    show('blocked by the page\u2019s security policy: ' + e.violatedDirective);
  });
})();
