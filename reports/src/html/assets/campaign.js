(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var filter = document.getElementById('outcome-filter');
  var rows = document.querySelectorAll('#run-table tbody tr');
  if (filter) {
    filter.addEventListener('change', function () {
      var want = filter.value;
      rows.forEach(function (row) {
        row.hidden = want !== '' && row.getAttribute('data-outcome') !== want;
      });
    });
  }
  document.documentElement.setAttribute('data-report-ready', String(data.runs));
})();
